# The text of the module's help: what Get-Help shows for each cmdlet. Build-Help.ps1 combines it with what the
# compiled cmdlets declare (parameter types, positions, pipeline input, sets) into the MAML file
# Module/en-US/Qcow2Mount.PowerShell.dll-Help.xml. Edit this file, then run Build-Help.ps1; a test fails while the
# two differ, and when a parameter has no description here.
@{
    # Descriptions of parameters several cmdlets share; a cmdlet's own Parameters entry wins.
    SharedParameters = @{
        ImagePath   = 'The image file (qcow2, or raw where the cmdlet reads images). Relative paths are relative to the current location. Accepts pipeline input: strings, and the files Get-ChildItem writes (through their PSPath).'
        ForceShare  = 'Read the image without taking QEMU''s locks, as qemu-img -U does: works while a running VM writes the image, but what is read may then be inconsistent. Without it, an image another process writes is refused with the ErrorId ImageLocked.'
        Password    = 'The password of an encrypted image (LUKS or legacy AES), as a SecureString (Read-Host -AsSecureString). Without it an encrypted image fails with the ErrorId InvalidPassword, as does a wrong password.'
        Snapshot    = 'An internal snapshot of the image (its name or id) to read instead of the image''s current state. Tab completion offers the snapshot names of the image given in -ImagePath.'
        PassThru    = 'Write the resulting object to the pipeline. By default the cmdlet writes nothing.'
        WhatIf      = 'Shows what would happen if the cmdlet runs. The cmdlet is not run and nothing is changed.'
        Confirm     = 'Prompts you for confirmation before running the cmdlet.'
    }

    Commands = @{
        'Mount-Qcow2Image' = @{
            Synopsis = 'Mounts qcow2 images so that their guest bytes appear as one raw file, disk.raw.'
            Description = @(
                'Mount-Qcow2Image mounts each image through the Qcow2Mount service, which it starts when none is running, exactly as "qcow2mount mount" does. The guest disk appears as the file disk.raw at the mount point: hash it, read it with forensic tools, or attach it as a loop device.'
                'Mounts are read-only unless you ask otherwise: the image''s bytes never change. -Overlay makes disk.raw writable while every write goes to a new qcow2 overlay file backed by the untouched image (removed at dismount unless -KeepOverlay). -Access ReadWrite writes into the image itself. -Snapshot shows an internal snapshot, read-only.'
                'On Windows the mount point is a drive letter or a folder; without -MountPoint the next free drive letter from Z: down is taken. On Linux and macOS it is an empty folder; without -MountPoint a new folder named after the image is made under $XDG_RUNTIME_DIR/qcow2mount/mnt (else {temp}/qcow2mount-{user}/mnt), and Dismount-Qcow2Image removes it again.'
                'Each image of the pipeline is mounted on its own: a failure (a missing, corrupt, locked or encrypted image) is a non-terminating error with its own ErrorId, and the next images are still mounted. See about_Qcow2Mount for how the module finds the qcow2mount executable that runs the service.'
            )
            Parameters = @{
                ImagePath   = 'The qcow2 images to mount. Accepts pipeline input by value and by property name (ImagePath, PSPath, FullName, Path), so Get-ChildItem *.qcow2 | Mount-Qcow2Image mounts every image.'
                MountPoint  = 'Where disk.raw appears. Windows: a drive letter (M or M:) or an empty folder. Linux and macOS: an existing empty folder. Default: the first free drive letter (Windows) or a new folder under the user''s runtime folder. Tab completion offers free drive letters on Windows and folders elsewhere. Accepts pipeline input by property name.'
                Access      = 'ReadOnly (the default): disk.raw refuses writes and the image never changes. ReadWrite: writes go into the image itself.'
                Overlay     = 'Make disk.raw writable while the image stays untouched: writes go to a new qcow2 overlay file (in a temporary folder unless -OverlayPath names it), deleted at dismount unless -KeepOverlay.'
                OverlayPath = 'With an overlay: the new overlay file to create (implies -Overlay). It must not exist yet.'
                KeepOverlay = 'Keep the overlay file after dismounting (only with -Overlay or -OverlayPath).'
                Snapshot    = 'Mount this internal snapshot (name or id), read-only, instead of the image''s current state. Tab completion offers the snapshot names of the image given in -ImagePath.'
                PassThru    = 'Write a Qcow2MountedImage object for each mount (ImagePath, MountPoint, Access, Size, DiskPath, Snapshot, Attached). By default nothing is written.'
            }
            Inputs = @(
                @{ Type = 'System.String[]'; Description = 'Image paths.' }
                @{ Type = 'System.IO.FileInfo'; Description = 'Image files, bound through their PSPath.' }
            )
            Outputs = @(
                @{ Type = 'Qcow2Mount.PowerShell.Qcow2MountedImage'; Description = 'With -PassThru: one object per mount.' }
            )
            Examples = @(
                @{
                    Code = '$mount = Mount-Qcow2Image -ImagePath ./evidence.qcow2 -PassThru
Get-FileHash $mount.DiskPath
Dismount-Qcow2Image -InputObject $mount'
                    Remarks = 'Mounts an image read-only, hashes its raw guest bytes, and dismounts it.'
                }
                @{
                    Code = 'Get-ChildItem *.qcow2 | Mount-Qcow2Image -PassThru'
                    Remarks = 'Mounts every qcow2 image of the current folder read-only, each at a mount point of its own.'
                }
                @{
                    Code = 'Mount-Qcow2Image C:\Evidence\disk.qcow2 -MountPoint M: -Overlay -PassThru'
                    Remarks = 'On Windows: mounts the image at drive M:, writable through an overlay; the image itself is not changed.'
                }
                @{
                    Code = 'Mount-Qcow2Image ./vm.qcow2 -MountPoint ./mnt -Snapshot before-update -PassThru'
                    Remarks = 'Mounts the internal snapshot "before-update" read-only at the folder ./mnt.'
                }
            )
        }

        'Dismount-Qcow2Image' = @{
            Synopsis = 'Dismounts mounted qcow2 images.'
            Description = @(
                'Dismount-Qcow2Image unmounts images mounted with Mount-Qcow2Image or "qcow2mount mount", named by image, by mount point, or as the objects Get-Qcow2Mount and Mount-Qcow2Image -PassThru write. When it returns, the image is flushed and closed.'
                'A mount folder that Mount-Qcow2Image made by default is removed once it is empty.'
            )
            Parameters = @{
                ImagePath   = 'The mounted images to dismount. Accepts pipeline input by value and by property name.'
                MountPoint  = 'The mount points to dismount (folders, or drive letters on Windows). Accepts pipeline input by property name.'
                InputObject = 'The mounts to dismount, as Get-Qcow2Mount writes them. Accepts pipeline input.'
                Force       = 'Dismount even while files on the mount are open. The mount is detached at once; the image stays open until those files are closed (what was written so far is flushed).'
                PassThru    = 'Write the dismounted mount, with Attached set to False.'
            }
            Inputs = @(
                @{ Type = 'Qcow2Mount.PowerShell.Qcow2MountedImage'; Description = 'Mounts, from Get-Qcow2Mount.' }
                @{ Type = 'System.String[]'; Description = 'Image paths.' }
            )
            Outputs = @(
                @{ Type = 'Qcow2Mount.PowerShell.Qcow2MountedImage'; Description = 'With -PassThru: the dismounted mount.' }
            )
            Examples = @(
                @{ Code = 'Dismount-Qcow2Image -ImagePath ./evidence.qcow2'; Remarks = 'Dismounts the mount of an image.' }
                @{ Code = 'Get-Qcow2Mount | Dismount-Qcow2Image'; Remarks = 'Dismounts everything mounted.' }
                @{ Code = 'Dismount-Qcow2Image -MountPoint M:'; Remarks = 'On Windows: dismounts the image mounted at drive M:.' }
            )
        }

        'Get-Qcow2Mount' = @{
            Synopsis = 'Gets the images the Qcow2Mount service has mounted.'
            Description = @(
                'Get-Qcow2Mount lists the mounts of the running Qcow2Mount service, in mount order, whoever made them (this module, the qcow2mount command, Explorer). With no service running it writes nothing. It never starts the service.'
            )
            Parameters = @{
                ImagePath = 'Only the mounts of these images. Accepts pipeline input by value and by property name.'
            }
            Inputs = @(@{ Type = 'System.String[]'; Description = 'Image paths to filter by.' })
            Outputs = @(@{ Type = 'Qcow2Mount.PowerShell.Qcow2MountedImage'; Description = 'One object per mount.' })
            Examples = @(
                @{ Code = 'Get-Qcow2Mount'; Remarks = 'Lists every mount: image, mount point, access, size, raw file, snapshot.' }
                @{ Code = 'Get-Qcow2Mount | Where-Object Access -eq ReadWrite'; Remarks = 'Lists the mounts whose raw file is writable.' }
            )
        }

        'Get-Qcow2Image' = @{
            Synopsis = 'Gets what qemu-img info shows about images, as typed properties.'
            Description = @(
                'Get-Qcow2Image reads an image''s header and tables (never its guest data, and without a password even when encrypted) and writes its format, virtual and actual size, cluster size, backing file, qcow2 features, encryption and internal snapshots. With -BackingChain it also describes each backing file, the image first.'
            )
            Parameters = @{
                BackingChain = 'Also write one object for each file of the backing chain (Depth 1, 2, ...).'
                Snapshot     = 'Describe the image as seen through this internal snapshot (name or id).'
            }
            Inputs = @(@{ Type = 'System.String[]'; Description = 'Image paths, or files from Get-ChildItem.' })
            Outputs = @(@{ Type = 'Qcow2Mount.PowerShell.Qcow2ImageInfo'; Description = 'One object per image (per file of the chain with -BackingChain).' })
            Examples = @(
                @{ Code = 'Get-Qcow2Image ./disk.qcow2 | Format-List'; Remarks = 'Shows every property of an image.' }
                @{ Code = 'Get-ChildItem -Recurse *.qcow2 | Get-Qcow2Image | Where-Object Encrypted'; Remarks = 'Finds the encrypted images under the current folder.' }
                @{ Code = 'Get-Qcow2Image ./overlay.qcow2 -BackingChain | Select-Object Depth, Path, Format'; Remarks = 'Shows the backing chain of an overlay.' }
            )
        }

        'Get-Qcow2Snapshot' = @{
            Synopsis = 'Gets the internal snapshots of qcow2 images.'
            Description = @(
                'Get-Qcow2Snapshot lists the internal snapshots of each image, as qemu-img snapshot -l does: id, name, saved VM state size, date and VM clock.'
            )
            Parameters = @{
                Name = 'Only the snapshots with these names or ids; wildcards are allowed. A name without wildcards that matches no snapshot is an error (ErrorId SnapshotNotFound). Tab completion offers the snapshot names of the image.'
            }
            Inputs = @(@{ Type = 'System.String[]'; Description = 'Image paths, or files from Get-ChildItem.' })
            Outputs = @(@{ Type = 'Qcow2Mount.PowerShell.Qcow2Snapshot'; Description = 'One object per snapshot.' })
            Examples = @(
                @{ Code = 'Get-Qcow2Snapshot ./vm.qcow2'; Remarks = 'Lists the snapshots of an image.' }
                @{ Code = 'Get-Qcow2Snapshot ./vm.qcow2 -Name nightly-*'; Remarks = 'Lists the snapshots whose names start with "nightly-".' }
            )
        }

        'New-Qcow2Snapshot' = @{
            Synopsis = 'Takes an internal snapshot of qcow2 images.'
            Description = @(
                'New-Qcow2Snapshot records the image''s current disk state as an internal snapshot (qemu-img snapshot -c). The image must not be in use by a VM or a writable mount.'
            )
            Parameters = @{
                ImagePath = 'The images to take a snapshot of. Accepts pipeline input by value and by property name.'
                Name      = 'The new snapshot''s name.'
            }
            Inputs = @(@{ Type = 'System.String[]'; Description = 'Image paths.' })
            Outputs = @(@{ Type = 'Qcow2Mount.PowerShell.Qcow2Snapshot'; Description = 'The snapshot created.' })
            Examples = @(
                @{ Code = 'New-Qcow2Snapshot ./vm.qcow2 -Name before-update'; Remarks = 'Takes a snapshot named "before-update".' }
            )
        }

        'Remove-Qcow2Snapshot' = @{
            Synopsis = 'Deletes internal snapshots of qcow2 images.'
            Description = @(
                'Remove-Qcow2Snapshot deletes internal snapshots (qemu-img snapshot -d) and frees the clusters only they used. It asks for confirmation unless -Confirm:$false.'
            )
            Parameters = @{
                ImagePath = 'The image. Accepts pipeline input by property name, so the objects of Get-Qcow2Snapshot can be piped in.'
                Name      = 'The names or ids of the snapshots to delete. Accepts pipeline input by property name.'
            }
            Inputs = @(@{ Type = 'Qcow2Mount.PowerShell.Qcow2Snapshot'; Description = 'Snapshots, from Get-Qcow2Snapshot.' })
            Outputs = @(@{ Type = 'None'; Description = 'Nothing.' })
            Examples = @(
                @{ Code = 'Remove-Qcow2Snapshot ./vm.qcow2 -Name before-update'; Remarks = 'Deletes one snapshot, after asking.' }
                @{ Code = 'Get-Qcow2Snapshot ./vm.qcow2 -Name nightly-* | Remove-Qcow2Snapshot -Confirm:$false'; Remarks = 'Deletes every "nightly-" snapshot without asking.' }
            )
        }

        'Restore-Qcow2Snapshot' = @{
            Synopsis = 'Reverts qcow2 images to an internal snapshot.'
            Description = @(
                'Restore-Qcow2Snapshot makes an internal snapshot the image''s current state (qemu-img snapshot -a). What was written since the snapshot is lost; it asks for confirmation unless -Confirm:$false.'
            )
            Parameters = @{
                ImagePath = 'The image. Accepts pipeline input by property name.'
                Name      = 'The name or id of the snapshot to revert to. Accepts pipeline input by property name.'
                PassThru  = 'Write the snapshot that was applied.'
            }
            Inputs = @(@{ Type = 'Qcow2Mount.PowerShell.Qcow2Snapshot'; Description = 'A snapshot, from Get-Qcow2Snapshot.' })
            Outputs = @(@{ Type = 'Qcow2Mount.PowerShell.Qcow2Snapshot'; Description = 'With -PassThru: the snapshot applied.' })
            Examples = @(
                @{ Code = 'Restore-Qcow2Snapshot ./vm.qcow2 -Name before-update -Confirm:$false'; Remarks = 'Reverts the image to the snapshot "before-update".' }
            )
        }

        'Test-Qcow2Image' = @{
            Synopsis = 'Checks the metadata of qcow2 images, as qemu-img check does, and optionally repairs it.'
            Description = @(
                'Test-Qcow2Image walks the image''s tables and reference counts and writes what it found: corruptions, leaked clusters, check errors, and cluster counts. Without -Repair nothing is written to the image. It reports progress (Write-Progress).'
                'IsClean is True when there are no corruptions, leaks or check errors (after repairs, when -Repair was given).'
            )
            Parameters = @{
                Repair     = 'Repair what was found: Leaks frees leaked clusters (safe), All also fixes corruptions. Changes the image, so -WhatIf and -Confirm apply. Not with -ForceShare.'
                ForceShare = 'Check even an image another process is writing (it may then look corrupt). Not with -Repair.'
            }
            Inputs = @(@{ Type = 'System.String[]'; Description = 'Image paths, or files from Get-ChildItem.' })
            Outputs = @(@{ Type = 'Qcow2Mount.PowerShell.Qcow2CheckResult'; Description = 'One object per image.' })
            Examples = @(
                @{ Code = 'Test-Qcow2Image ./disk.qcow2'; Remarks = 'Checks an image.' }
                @{ Code = 'Get-ChildItem *.qcow2 | Test-Qcow2Image | Where-Object { -not $_.IsClean }'; Remarks = 'Lists the images that are not clean.' }
                @{ Code = 'Test-Qcow2Image ./disk.qcow2 -Repair Leaks'; Remarks = 'Frees leaked clusters.' }
            )
        }

        'Get-Qcow2ImageHash' = @{
            Synopsis = 'Computes the hash of an image''s guest bytes, as Get-FileHash of its raw disk would.'
            Description = @(
                'Get-Qcow2ImageHash hashes the guest bytes of an image: the bytes disk.raw shows when the image is mounted, and that qemu-img convert -O raw writes. Its output is shaped like Get-FileHash''s (Algorithm, Hash in upper-case hex, Path), so the two compare directly. The image is only read; unless -ForceShare, QEMU''s reader lock keeps writers out until the hash is done. It reports progress (Write-Progress).'
            )
            Parameters = @{
                Algorithm = 'The hash algorithm: SHA256 (the default), SHA1, SHA512 or MD5.'
                Snapshot  = 'Hash this internal snapshot (name or id) instead of the image''s current state.'
            }
            Inputs = @(@{ Type = 'System.String[]'; Description = 'Image paths, or files from Get-ChildItem.' })
            Outputs = @(@{ Type = 'Qcow2Mount.PowerShell.Qcow2ImageHash'; Description = 'One object per image.' })
            Examples = @(
                @{ Code = 'Get-Qcow2ImageHash ./evidence.qcow2'; Remarks = 'The SHA256 of the guest disk.' }
                @{ Code = '(Get-Qcow2ImageHash ./evidence.qcow2).Hash -eq (Get-FileHash M:\disk.raw).Hash'; Remarks = 'On Windows, with the image mounted at M:: True, since both hash the same guest bytes.' }
                @{ Code = 'Get-ChildItem *.qcow2 | Get-Qcow2ImageHash -Algorithm MD5 | Export-Csv hashes.csv'; Remarks = 'Records the MD5 of every image of the folder.' }
            )
        }

        'New-Qcow2Image' = @{
            Synopsis = 'Creates empty qcow2 images.'
            Description = @(
                'New-Qcow2Image creates a new, empty qcow2 image (qemu-img create -f qcow2), optionally as an overlay over a backing file. An existing file is replaced only with -Force.'
            )
            Parameters = @{
                ImagePath     = 'The image files to create. Accepts pipeline input by value and by property name.'
                Size          = 'The guest size in bytes; PowerShell''s suffixes work (64GB). Optional with -BackingFile, whose size is then taken.'
                BackingFile   = 'Create an overlay over this image: reads of unwritten clusters come from it. Stored as given; a relative name is relative to the new image''s folder.'
                BackingFormat = 'The backing file''s format, qcow2 or raw; probed when omitted.'
                ClusterSize   = 'The cluster size in bytes, a power of two from 512 to 2 MiB; 64 KiB by default.'
                Force         = 'Replace an existing file (never the new image''s own backing file, nor a file in use).'
            }
            Inputs = @(@{ Type = 'System.String[]'; Description = 'Paths of the images to create.' })
            Outputs = @(@{ Type = 'System.IO.FileInfo'; Description = 'The image file created.' })
            Examples = @(
                @{ Code = 'New-Qcow2Image ./scratch.qcow2 -Size 64GB'; Remarks = 'Creates an empty 64 GiB image.' }
                @{ Code = 'New-Qcow2Image ./overlay.qcow2 -BackingFile base.qcow2'; Remarks = 'Creates an overlay over base.qcow2, of its size.' }
            )
        }

        'Convert-Qcow2Image' = @{
            Synopsis = 'Writes an image''s guest bytes to a raw file or a new qcow2 image.'
            Description = @(
                'Convert-Qcow2Image does what qemu-img convert does: it reads the image (qcow2 or raw, any backing chain, compressed or encrypted clusters) and writes its guest bytes to a raw file (sparse where zero) or a new qcow2 image. The source is only read. A failed or stopped conversion leaves no destination behind. It reports progress (Write-Progress).'
            )
            Parameters = @{
                ImagePath         = 'The image to read. Accepts pipeline input by property name.'
                Destination       = 'The file to write. An existing file is replaced only with -Force. Accepts pipeline input by property name (a script block such as { $_.BaseName + ''.raw'' } works).'
                DestinationFormat = 'Raw (the default) or Qcow2.'
                Compress          = 'Qcow2 output: store the data clusters compressed.'
                Snapshot          = 'Convert this internal snapshot (name or id) instead of the image''s current state.'
                Force             = 'Replace an existing destination file.'
                PassThru          = 'Write the destination file (a FileInfo).'
            }
            Inputs = @(@{ Type = 'System.IO.FileInfo'; Description = 'Images, from Get-ChildItem.' })
            Outputs = @(@{ Type = 'System.IO.FileInfo'; Description = 'With -PassThru: the destination file.' })
            Examples = @(
                @{ Code = 'Convert-Qcow2Image ./disk.qcow2 ./disk.raw'; Remarks = 'Writes the guest disk to a sparse raw file.' }
                @{ Code = 'Convert-Qcow2Image ./disk.qcow2 ./small.qcow2 -DestinationFormat Qcow2 -Compress'; Remarks = 'Writes a compressed copy of the image.' }
                @{ Code = 'Get-ChildItem *.qcow2 | Convert-Qcow2Image -Destination { $_.BaseName + ''.raw'' }'; Remarks = 'Converts every image of the folder to a raw file beside it.' }
            )
        }

        'Resize-Qcow2Image' = @{
            Synopsis = 'Grows the virtual disk of qcow2 images.'
            Description = @(
                'Resize-Qcow2Image changes an image''s virtual size, as qemu-img resize does. Only growing is supported; the new space reads as zeros. The guest''s partitions and file systems are not changed.'
            )
            Parameters = @{
                ImagePath = 'The images to resize. Accepts pipeline input by value and by property name.'
                Size      = 'The new guest size in bytes (64GB works); not smaller than the current size.'
                GrowBy    = 'Bytes to add to the guest size.'
            }
            Inputs = @(@{ Type = 'System.String[]'; Description = 'Image paths.' })
            Outputs = @(@{ Type = 'None'; Description = 'Nothing.' })
            Examples = @(
                @{ Code = 'Resize-Qcow2Image ./disk.qcow2 -Size 128GB'; Remarks = 'Grows the disk to 128 GiB.' }
                @{ Code = 'Resize-Qcow2Image ./disk.qcow2 -GrowBy 10GB -WhatIf'; Remarks = 'Shows what growing by 10 GiB would do, without doing it.' }
            )
        }
    }
}
