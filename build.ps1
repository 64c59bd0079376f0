#!/usr/bin/env pwsh
<#
.SYNOPSIS
    Builds, tests and publishes Qcow2Mount. Runs under PowerShell 7 on Windows and Linux.
.EXAMPLE
    ./build.ps1 build
    ./build.ps1 test
    ./build.ps1 publish -Runtime win-x64
#>
[CmdletBinding()]
param(
    [Parameter(Position = 0)]
    [ValidateSet('build', 'test', 'publish', 'clean')]
    [string] $Target = 'build',

    [ValidateSet('Debug', 'Release')]
    [string] $Configuration = 'Release',

    # Runtime identifier for publish (win-x64, linux-x64, ...); defaults to the current machine's.
    [string] $Runtime
)

$ErrorActionPreference = 'Stop'
Set-StrictMode -Version Latest
$root = $PSScriptRoot
$solution = Join-Path $root 'Qcow2Mount.sln'

function Invoke-Dotnet {
    & dotnet @args
    if ($LASTEXITCODE -ne 0) { throw "dotnet $($args -join ' ') failed with exit code $LASTEXITCODE" }
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

switch ($Target) {
    'build' { Invoke-Dotnet build $solution -c $Configuration }
    'test' {
        $results = Join-Path $root 'TestResults'
        Invoke-Dotnet test $solution -c $Configuration --logger trx --results-directory $results
    }
    'publish' {
        if (-not $Runtime) {
            $Runtime = [System.Runtime.InteropServices.RuntimeInformation]::RuntimeIdentifier
        }
        $out = Join-Path $root "artifacts/publish/$Runtime"
        Invoke-Dotnet publish (Join-Path $root 'src/Qcow2Mount.Cli/Qcow2Mount.Cli.csproj') -c $Configuration -r $Runtime --self-contained -o $out
        Write-Host "published to $out"
        Publish-Qcow2MountModule -ServiceFolder $out
    }
    'clean' {
        Invoke-Dotnet clean $solution -c $Configuration
        Remove-Item -Recurse -Force -ErrorAction SilentlyContinue (Join-Path $root 'artifacts'), (Join-Path $root 'TestResults')
    }
}
