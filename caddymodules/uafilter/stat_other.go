//go:build !unix

package uafilter

import "os"

// addInode is a no-op where inodes are not available; modification time
// and size still identify changes.
func addInode(*fileStamp, os.FileInfo) {}
