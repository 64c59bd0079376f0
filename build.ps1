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
#>
[CmdletBinding()]
param(
    [Parameter(Position = 0)]
    [ValidateSet('all', 'build', 'test', 'publish', 'clean')]
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
    'clean' {
        Invoke-Dotnet clean $solution -c $Configuration
        Remove-Item -Recurse -Force -ErrorAction SilentlyContinue (Join-Path $root 'artifacts'), (Join-Path $root 'TestResults')
    }
}
