namespace Qcow2Mount.Adapters.Tests;

/// <summary>Compiled only where the adapters are not: says why their contract tests did not run.</summary>
internal sealed class AdaptersAbsentTests
{
    [Test]
    public void Adapter_contract_tests_need_the_adapter_packages() =>
        Assert.Ignore("winfsp.net / DokanNet not restorable here: the WinFsp and Dokan adapters were not compiled "
            + "(set Qcow2MountAdapterPackages to a folder holding winfsp.net 2.1.24051 and DokanNet 2.3.0.3).");
}
