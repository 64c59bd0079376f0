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
    }
    'clean' {
        Invoke-Dotnet clean $solution -c $Configuration
        Remove-Item -Recurse -Force -ErrorAction SilentlyContinue (Join-Path $root 'artifacts'), (Join-Path $root 'TestResults')
    }
}
