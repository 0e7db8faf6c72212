// Package filewatch decides, by polling, when a watched file has changed
// and is safe to read. Every watched file in the project follows the same
// rule: a file is a new version when its device, inode, size or
// modification time differ, and a new version is read only once it has
// been left alone for a settle period, so that a file being written in
// place (truncated, then filled) is never read half-way.
package filewatch

import "os"

// Stamp identifies a version of a file cheaply. The zero Stamp stands for
// "no file".
type Stamp struct {
	modTime int64
	size    int64
	ino     uint64
	dev     uint64
}

// StampOf returns the stamp of fi. The device and inode are included where
// the platform has them, so that a file replaced by rename is seen even
// when the replacement has the same size and modification time.
func StampOf(fi os.FileInfo) Stamp {
	s := Stamp{modTime: fi.ModTime().UnixNano(), size: fi.Size()}
	addInode(&s, fi)
	return s
}

// StampFile returns the stamp of the file at path.
func StampFile(path string) (Stamp, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return Stamp{}, err
	}
	return StampOf(fi), nil
}

// IsZero reports whether s stands for no file.
func (s Stamp) IsZero() bool { return s == Stamp{} }
