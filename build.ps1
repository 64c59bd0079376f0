#!/usr/bin/env pwsh
<#
.SYNOPSIS
    Builds, tests and publishes Qcow2Mount. Runs under PowerShell 7 on Windows and Linux.
.DESCRIPTION
    With no target ('all') it builds, publishes what this machine can run and tests everything that machine can:
    on Windows the win-x64 build (qcow2mount.exe, tested natively), on Linux the native binary and, when Wine is
    installed, the win-x64 build too (tested under Wine). Tests that need a missing tool report themselves ignored.

    The WinFsp and Dokan adapters are compiled in wherever their packages (winfsp.net, DokanNet) restore: from the
    public NuGet feed, or from a local package folder named by -AdapterPackages (or the environment variable
    Qcow2MountAdapterPackages). Without them everything else builds, and mounting on Windows says what is missing.
.EXAMPLE
    ./build.ps1
    ./build.ps1 build
    ./build.ps1 test
    ./build.ps1 publish -Runtime win-x64
    ./build.ps1 installer    # artifacts/installer/Qcow2Mount-<version>-x64.msi (needs wixl, from Debian's msitools)
#>
[CmdletBinding()]
param(
    [Parameter(Position = 0)]
    [ValidateSet('all', 'build', 'test', 'publish', 'clean', 'installer')]
    [string] $Target = 'all',

    [ValidateSet('Debug', 'Release')]
    [string] $Configuration = 'Release',

    # Runtime identifier for publish (win-x64, linux-x64, ...); defaults to the current machine's.
    [string] $Runtime,

    # A local NuGet package folder holding winfsp.net and DokanNet, for machines whose feed does not serve them.
    [string] $AdapterPackages = $env:Qcow2MountAdapterPackages
)

$ErrorActionPreference = 'Stop'
Set-StrictMode -Version Latest
$root = $PSScriptRoot
$solution = Join-Path $root 'Qcow2Mount.sln'
$properties = @()
if ($AdapterPackages) {
    $properties += "-p:Qcow2MountAdapterPackages=$((Resolve-Path $AdapterPackages).Path)"
}

# dotnet's output goes to the host, so functions return only what they mean to (a path).
function Invoke-Dotnet {
    & dotnet @args | Out-Host
    if ($LASTEXITCODE -ne 0) { throw "dotnet $($args -join ' ') failed with exit code $LASTEXITCODE" }
}

# The MSI: the win-x64 build (published when missing), the launcher, icons, Explorer registration and, when built,
# the PowerShell module, put together by wixl (WiX 3 syntax) from installer/*.wxs plus the harvested file lists.
function Invoke-InstallerBuild {
    foreach ($tool in 'wixl', 'wixl-heat', 'msibuild') {
        if (-not (Get-Command $tool -ErrorAction SilentlyContinue)) { throw "$tool not found (Debian: apt-get install wixl msitools)" }
    }
    $version = ([xml](Get-Content (Join-Path $root 'Directory.Build.props'))).SelectSingleNode('/Project/PropertyGroup/Version').InnerText
    $publish = 'artifacts/publish/win-x64'
    if (-not (Test-Path (Join-Path $root "$publish/qcow2mount.exe"))) {
        & (Join-Path $root 'build.ps1') publish -Runtime win-x64 -Configuration $Configuration
    }
    # The launcher shares the CLI's self-contained runtime: published into the same folder.
    Invoke-Dotnet publish (Join-Path $root 'src/Qcow2Mount.Launcher/Qcow2Mount.Launcher.csproj') -c $Configuration -r win-x64 --self-contained `
        -o (Join-Path $root $publish)

    $obj = 'artifacts/installer/obj'
    $msi = "artifacts/installer/Qcow2Mount-$version-x64.msi"
    $module = "artifacts/module/Qcow2Mount/$version"
    # wixl takes only relative Source paths: everything here is relative to the repository root.
    Push-Location $root
    try {
        New-Item -ItemType Directory -Force $obj | Out-Null
        function Invoke-Heat([string] $folder, [string] $group, [string] $directory, [string] $variable, [string[]] $exclude) {
            # The module's service/ folder (a copy of qcow2mount for zip use) is left out: the MSI puts qcow2mount on the PATH.
            $files = Get-ChildItem -Recurse -File $folder |
                Where-Object { $_.Extension -ne '.pdb' -and $_.Name -notin $exclude -and $_.FullName -notmatch '[\\/]service[\\/]' } |
                ForEach-Object { [IO.Path]::GetRelativePath($root, $_.FullName).Replace('\', '/') } | Sort-Object
            $wxs = $files | & wixl-heat -p "$folder/" --component-group $group --directory-ref $directory --var "var.$variable" --win64
            if ($LASTEXITCODE -ne 0) { throw "wixl-heat failed for $folder" }
            # wixl-heat derives component ids from file names alone: the module's DLLs, also in the program folder,
            # would get the same ids there and wixl fails on the duplicate key. Each group's ids get its own prefix.
            $wxs = $wxs -replace 'Id="(cmp|fil|dir)', "Id=`"$($group.Substring(0, 3).ToLowerInvariant())`$1"
            Set-Content -Path "$obj/$group.wxs" -Value $wxs
        }
        Invoke-Heat $publish 'PublishFiles' 'INSTALLDIR' 'PublishDir' @('qcow2mount.exe', 'qcow2mountw.exe')
        if (Test-Path $module) {
            Invoke-Heat $module 'ModuleFiles' 'MODULEDIR' 'ModuleDir' @()
        } else {
            Write-Warning "no PowerShell module at $module (build it first); the MSI is built without it"
            Set-Content -Path "$obj/ModuleFiles.wxs" -Value @'
<?xml version="1.0" encoding="utf-8"?>
<Wix xmlns="http://schemas.microsoft.com/wix/2006/wi"><Fragment><ComponentGroup Id="ModuleFiles" /></Fragment></Wix>
'@
        }

        $log = & wixl -a x64 -o $msi -D "Version=$version" -D "PublishDir=$publish" -D "ModuleDir=$module" -D Win64=yes `
            -D 'IconsDir=assets/icons' installer/Qcow2Mount.wxs "$obj/PublishFiles.wxs" "$obj/ModuleFiles.wxs" 2>&1
        $status = $LASTEXITCODE
        if ($status -eq 0) {
            # Attributes wixl drops without a word, set afterwards (the MSI tests check them):
            # - Execute="commit": it writes a plain immediate action, which would run without the rights to edit the
            #   machine PATH; 3602 = commit + no impersonation + an exe from the File table.
            # - IncludeMaximum="yes": without it a rebuild of the same version installs beside its predecessor;
            #   768 = minimum and maximum inclusive.
            #   Attributes is part of the Upgrade table's key, so the row is replaced rather than updated.
            $upgradeCode = ([xml](Get-Content installer/Qcow2Mount.wxs)).Wix.Product.UpgradeCode.ToUpperInvariant()
            foreach ($query in "UPDATE CustomAction SET Type=3602 WHERE Action='AddToPath'",
                "DELETE FROM Upgrade WHERE ActionProperty='WIX_UPGRADE_DETECTED'",
                ("INSERT INTO Upgrade (UpgradeCode, VersionMin, VersionMax, Attributes, ActionProperty) " +
                    "VALUES ('{$upgradeCode}', '0.0.0', '$version', 768, 'WIX_UPGRADE_DETECTED')")) {
                & msibuild $msi -q $query
                if ($LASTEXITCODE -ne 0) { throw "msibuild failed: $query" }
            }
        }
    } finally {
        Pop-Location
    }
    $log | ForEach-Object { Write-Host $_ }
    # wixl drops what it does not support with a CRITICAL line and exit code 0: treat that as the failure it is.
    if ($status -ne 0 -or ($log -match 'CRITICAL')) { throw "wixl failed (exit $status); see the lines above" }
    Write-Host "built $(Join-Path $root $msi)"
}

# The PowerShell module, laid out as it is installed: artifacts/module/Qcow2Mount/<version>/, which Import-Module
# takes as it is. The qcow2mount just published for the same runtime goes into its service/ folder, where the
# module looks for the executable that runs the mount service, so mounts work with nothing else installed.
function Publish-Qcow2MountModule([string] $ServiceFolder) {
    $version = ([xml](Get-Content -Raw (Join-Path $root 'Directory.Build.props'))).SelectSingleNode('/Project/PropertyGroup/Version').InnerText
    $moduleRoot = Join-Path $root 'artifacts/module/Qcow2Mount'
    $moduleFolder = Join-Path $moduleRoot $version
    if (Test-Path $moduleRoot) { Remove-Item -Recurse -Force $moduleRoot }
    Invoke-Dotnet publish (Join-Path $root 'src/Qcow2Mount.PowerShell/Qcow2Mount.PowerShell.csproj') -c $Configuration -o $moduleFolder
    $service = New-Item -ItemType Directory (Join-Path $moduleFolder 'service')
    Get-ChildItem $ServiceFolder -Exclude '*.pdb', '*.dbg' | Copy-Item -Destination $service -Recurse
    Write-Host "module laid out in $moduleFolder"
}

function Get-MachineRuntime {
    [System.Runtime.InteropServices.RuntimeInformation]::RuntimeIdentifier
}

# Publishes the CLI for one runtime into artifacts/publish/<runtime>/ and returns the executable's path.
# Linux targets built on Linux are native (AOT); win-x64 is self-contained ReadyToRun in a folder (not single-file:
# a single-file build only starts under Wine when it extracts itself, and the folder keeps the adapters visible).
function Publish-Cli([string] $rid) {
    $out = Join-Path $root "artifacts/publish/$rid"
    Invoke-Dotnet publish (Join-Path $root 'src/Qcow2Mount.Cli/Qcow2Mount.Cli.csproj') -c $Configuration -r $rid --self-contained -o $out @properties
    Write-Host "published to $out"
    # The module is laid out with the qcow2mount this machine runs; a cross-publish (win-x64 on Linux) leaves it be.
    if ($rid -eq (Get-MachineRuntime)) {
        Publish-Qcow2MountModule -ServiceFolder $out
    }
    $name = if ($rid.StartsWith('win')) { 'qcow2mount.exe' } else { 'qcow2mount' }
    Join-Path $out $name
}

function Invoke-Tests {
    $results = Join-Path $root 'TestResults'
    Invoke-Dotnet test $solution -c $Configuration --logger trx --results-directory $results @properties
}

switch ($Target) {
    'build' { Invoke-Dotnet build $solution -c $Configuration @properties }
    'test' { Invoke-Tests }
    'publish' {
        if (-not $Runtime) { $Runtime = Get-MachineRuntime }
        $null = Publish-Cli $Runtime
    }
    'all' {
        Invoke-Dotnet build $solution -c $Configuration @properties
        if ($IsWindows) {
            # The Windows fixture (tests/Qcow2Mount.Windows.Tests) runs the published qcow2mount.exe natively.
            $env:QCOW2MOUNT_WINDOWS_PUBLISHED = Publish-Cli 'win-x64'
        }
        else {
            $env:QCOW2MOUNT_PUBLISHED = Publish-Cli (Get-MachineRuntime)
            if (Get-Command wine -ErrorAction SilentlyContinue) {
                $env:QCOW2MOUNT_WINDOWS_PUBLISHED = Publish-Cli 'win-x64'
            }
        }
        Invoke-Tests
    }
    'installer' { Invoke-InstallerBuild }
    'clean' {
        Invoke-Dotnet clean $solution -c $Configuration
        Remove-Item -Recurse -Force -ErrorAction SilentlyContinue (Join-Path $root 'artifacts'), (Join-Path $root 'TestResults')
    }
}
