Import-Module ./artifacts/module/Qcow2Mount
$mount = Mount-Qcow2Image -ImagePath ./assets/sample.qcow2 -PassThru
Get-FileHash -LiteralPath $mount.DiskPath -Algorithm SHA256 | Format-List
Dismount-Qcow2Image -InputObject $mount
