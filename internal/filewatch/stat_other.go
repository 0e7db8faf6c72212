//go:build !unix

package filewatch

import "os"

// addInode is a no-op where inodes are not available; modification time
// and size still detect changes.
func addInode(*Stamp, os.FileInfo) {}
