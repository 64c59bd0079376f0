#!/usr/bin/env pwsh
<#
.SYNOPSIS
    Writes the module's MAML help (en-US/Qcow2Mount.PowerShell.dll-Help.xml) from Qcow2Mount.help.psd1 and the
    compiled cmdlets.
.DESCRIPTION
    The text (synopses, descriptions, parameter descriptions, examples) comes from Qcow2Mount.help.psd1; the syntax
    (parameter sets, types, positions, pipeline input, aliases) from the cmdlets themselves, so the help cannot
    drift from the code. platyPS does this for other modules; it is not available here, so this script does the
    part the module needs. Run it after changing a cmdlet's parameters or the help text:
        dotnet build src/Qcow2Mount.PowerShell
        pwsh src/Qcow2Mount.PowerShell/Help/Build-Help.ps1 -ModulePath src/Qcow2Mount.PowerShell/bin/Debug/net10.0/Qcow2Mount.psd1
    The PowerShell tests run it into a temporary file and fail while the committed file differs.
#>
[CmdletBinding()]
param(
    [Parameter(Mandatory)]
    [string] $ModulePath,

    [string] $OutFile = (Join-Path $PSScriptRoot '../Module/en-US/Qcow2Mount.PowerShell.dll-Help.xml')
)

$ErrorActionPreference = 'Stop'
Set-StrictMode -Version Latest

$help = Import-PowerShellDataFile (Join-Path $PSScriptRoot 'Qcow2Mount.help.psd1')
$module = Import-Module $ModulePath -PassThru -Force
$maml = 'http://schemas.microsoft.com/maml/2004/10'
$command = 'http://schemas.microsoft.com/maml/dev/command/2004/10'
$dev = 'http://schemas.microsoft.com/maml/dev/2004/10'
$common = [System.Management.Automation.Cmdlet]::CommonParameters

function Get-Text([string] $CommandName, [string] $ParameterName) {
    $own = $help.Commands[$CommandName].Parameters
    if ($own.ContainsKey($ParameterName)) { return $own[$ParameterName] }
    if ($help.SharedParameters.ContainsKey($ParameterName)) { return $help.SharedParameters[$ParameterName] }
    throw "Qcow2Mount.help.psd1 describes no parameter -$ParameterName of $CommandName"
}

function Write-Paragraphs([System.Xml.XmlWriter] $Writer, [string[]] $Paragraphs) {
    $Writer.WriteStartElement('maml', 'description', $maml)
    foreach ($paragraph in $Paragraphs) { $Writer.WriteElementString('maml', 'para', $maml, $paragraph) }
    $Writer.WriteEndElement()
}

function Get-TypeName([type] $Type, [switch] $Short) {
    # Nullable value types (an optional -Size) read as the value type.
    if ($Type.IsGenericType -and $Type.GetGenericTypeDefinition() -eq [Nullable`1]) { $Type = $Type.GenericTypeArguments[0] }
    if ($Short) { return $Type.Name }
    return $Type.FullName
}

# One <command:parameter>: in a syntax item (Info is that set's view of it) or in the parameters list.
function Write-Parameter([System.Xml.XmlWriter] $Writer, [string] $CommandName, $Parameter, [bool] $Required, [int] $Position, [string] $Pipeline) {
    $type = $Parameter.ParameterType
    $isSwitch = $type -eq [System.Management.Automation.SwitchParameter]
    $Writer.WriteStartElement('command', 'parameter', $command)
    $Writer.WriteAttributeString('required', $Required.ToString().ToLowerInvariant())
    $Writer.WriteAttributeString('variableLength', $type.IsArray.ToString().ToLowerInvariant())
    $wildcards = [bool]($Parameter.Attributes | Where-Object { $_ -is [System.Management.Automation.SupportsWildcardsAttribute] })
    $Writer.WriteAttributeString('globbing', $wildcards.ToString().ToLowerInvariant())
    $Writer.WriteAttributeString('pipelineInput', $Pipeline)
    $Writer.WriteAttributeString('position', $(if ($Position -ge 0) { "$Position" } else { 'named' }))
    $aliases = @($Parameter.Aliases)
    $Writer.WriteAttributeString('aliases', $(if ($aliases.Count) { $aliases -join ', ' } else { 'none' }))
    $Writer.WriteElementString('maml', 'name', $maml, $Parameter.Name)
    Write-Paragraphs $Writer @(Get-Text $CommandName $Parameter.Name)
    $validValues = @($Parameter.Attributes | Where-Object { $_ -is [System.Management.Automation.ValidateSetAttribute] } | ForEach-Object ValidValues)
    if (-not $validValues.Count -and $type.IsEnum) { $validValues = [enum]::GetNames($type) }
    if ($validValues.Count) {
        $Writer.WriteStartElement('command', 'parameterValueGroup', $command)
        foreach ($value in $validValues) {
            $Writer.WriteStartElement('command', 'parameterValue', $command)
            $Writer.WriteAttributeString('required', 'false')
            $Writer.WriteAttributeString('variableLength', 'false')
            $Writer.WriteString($value)
            $Writer.WriteEndElement()
        }
        $Writer.WriteEndElement()
    }
    if (-not $isSwitch) {
        $Writer.WriteStartElement('command', 'parameterValue', $command)
        $Writer.WriteAttributeString('required', 'true')
        $Writer.WriteAttributeString('variableLength', $type.IsArray.ToString().ToLowerInvariant())
        $Writer.WriteString((Get-TypeName $type -Short))
        $Writer.WriteEndElement()
    }
    $Writer.WriteStartElement('dev', 'type', $dev)
    $Writer.WriteElementString('maml', 'name', $maml, (Get-TypeName $type))
    $Writer.WriteEndElement()
    $Writer.WriteElementString('dev', 'defaultValue', $dev, $(if ($isSwitch) { 'False' } else { 'None' }))
    $Writer.WriteEndElement()
}

function Get-Pipeline($Parameter) {
    $kinds = @()
    if ($Parameter.ValueFromPipeline) { $kinds += 'ByValue' }
    if ($Parameter.ValueFromPipelineByPropertyName) { $kinds += 'ByPropertyName' }
    if ($kinds) { "True ($($kinds -join ', '))" } else { 'False' }
}

function Write-TypeList([System.Xml.XmlWriter] $Writer, [string] $ListName, [string] $ItemName, $Items) {
    $Writer.WriteStartElement('command', $ListName, $command)
    foreach ($item in $Items) {
        $Writer.WriteStartElement('command', $ItemName, $command)
        $Writer.WriteStartElement('dev', 'type', $dev)
        $Writer.WriteElementString('maml', 'name', $maml, $item.Type)
        $Writer.WriteEndElement()
        Write-Paragraphs $Writer @($item.Description)
        $Writer.WriteEndElement()
    }
    $Writer.WriteEndElement()
}

$settings = [System.Xml.XmlWriterSettings]::new()
$settings.Indent = $true
$settings.IndentChars = '  '
$settings.NewLineChars = "`n"
$settings.Encoding = [System.Text.UTF8Encoding]::new($false)
$stream = [System.IO.MemoryStream]::new()
$writer = [System.Xml.XmlWriter]::Create($stream, $settings)
$writer.WriteStartDocument()
$writer.WriteComment(' Generated by Help/Build-Help.ps1 from Help/Qcow2Mount.help.psd1 and the cmdlets: edit those, not this file. ')
$writer.WriteStartElement('helpItems', 'http://msh')
$writer.WriteAttributeString('schema', 'maml')

$names = @($module.ExportedCmdlets.Keys | Sort-Object)
$undocumented = @($names | Where-Object { -not $help.Commands.ContainsKey($_) })
if ($undocumented) { throw "Qcow2Mount.help.psd1 has no entry for $($undocumented -join ', ')" }
foreach ($name in $names) {
    $info = Get-Command $name
    $text = $help.Commands[$name]
    # Positional parameters first, by position (a base class's -ImagePath is declared after its cmdlet's own), then the rest as declared.
    $parameters = @($info.Parameters.Values | Where-Object { -not $common.Contains($_.Name) } | Sort-Object -Stable {
            $positions = @($_.ParameterSets.Values | ForEach-Object Position | Where-Object { $_ -ge 0 })
            if ($positions.Count) { $positions[0] } else { [int]::MaxValue }
        })
    $verb, $noun = $name -split '-', 2

    $writer.WriteStartElement('command', 'command', $command)
    $writer.WriteAttributeString('xmlns', 'maml', $null, $maml)
    $writer.WriteAttributeString('xmlns', 'dev', $null, $dev)
    $writer.WriteStartElement('command', 'details', $command)
    $writer.WriteElementString('command', 'name', $command, $name)
    $writer.WriteElementString('command', 'verb', $command, $verb)
    $writer.WriteElementString('command', 'noun', $command, $noun)
    Write-Paragraphs $writer @($text.Synopsis)
    $writer.WriteEndElement()
    Write-Paragraphs $writer @($text.Description)

    $writer.WriteStartElement('command', 'syntax', $command)
    foreach ($set in $info.ParameterSets) {
        $writer.WriteStartElement('command', 'syntaxItem', $command)
        $writer.WriteElementString('maml', 'name', $maml, $name)
        $inSet = @($set.Parameters | Where-Object { -not $common.Contains($_.Name) } |
            Sort-Object { if ($_.Position -ge 0) { $_.Position } else { [int]::MaxValue } }, { -not $_.IsMandatory })
        foreach ($p in $inSet) {
            Write-Parameter $writer $name $info.Parameters[$p.Name] $p.IsMandatory $p.Position (Get-Pipeline $p)
        }
        $writer.WriteEndElement()
    }
    $writer.WriteEndElement()

    $writer.WriteStartElement('command', 'parameters', $command)
    foreach ($p in $parameters) {
        $views = @($p.ParameterSets.Values)
        $mandatory = [bool]($views | Where-Object IsMandatory)
        $position = @($views | ForEach-Object Position | Where-Object { $_ -ge 0 } | Select-Object -First 1)
        $pipeline = [pscustomobject]@{
            ValueFromPipeline = [bool]($views | Where-Object ValueFromPipeline)
            ValueFromPipelineByPropertyName = [bool]($views | Where-Object ValueFromPipelineByPropertyName)
        }
        Write-Parameter $writer $name $p $mandatory $(if ($position.Count) { $position[0] } else { -1 }) (Get-Pipeline $pipeline)
    }
    $writer.WriteEndElement()

    Write-TypeList $writer 'inputTypes' 'inputType' $text.Inputs
    Write-TypeList $writer 'returnValues' 'returnValue' $text.Outputs

    $writer.WriteStartElement('maml', 'alertSet', $maml)
    $writer.WriteStartElement('maml', 'alert', $maml)
    $writer.WriteElementString('maml', 'para', $maml, 'Read-only by default: Mount-Qcow2Image changes no image unless -Access ReadWrite is given, and -Overlay leaves the image untouched. Errors are non-terminating, one per pipeline item, with an ErrorId per cause (see about_Qcow2Mount).')
    $writer.WriteEndElement()
    $writer.WriteEndElement()

    $writer.WriteStartElement('command', 'examples', $command)
    $number = 0
    foreach ($example in $text.Examples) {
        $number++
        $writer.WriteStartElement('command', 'example', $command)
        $writer.WriteElementString('maml', 'title', $maml, "-------------------------- Example $number --------------------------")
        $writer.WriteElementString('dev', 'code', $dev, $example.Code)
        $writer.WriteStartElement('dev', 'remarks', $dev)
        $writer.WriteElementString('maml', 'para', $maml, $example.Remarks)
        $writer.WriteEndElement()
        $writer.WriteEndElement()
    }
    $writer.WriteEndElement()

    $writer.WriteStartElement('command', 'relatedLinks', $command)
    foreach ($link in @('about_Qcow2Mount') + @($names | Where-Object { $_ -ne $name -and ($_ -split '-', 2)[1] -eq $noun })) {
        $writer.WriteStartElement('maml', 'navigationLink', $maml)
        $writer.WriteElementString('maml', 'linkText', $maml, $link)
        $writer.WriteElementString('maml', 'uri', $maml, '')
        $writer.WriteEndElement()
    }
    $writer.WriteEndElement()

    $writer.WriteEndElement()
}

$writer.WriteEndElement()
$writer.WriteEndDocument()
$writer.Flush()
$null = New-Item -ItemType Directory -Force (Split-Path $OutFile)
[System.IO.File]::WriteAllBytes($OutFile, $stream.ToArray() + [byte[]][char[]]"`n")
Write-Verbose "wrote $OutFile"
