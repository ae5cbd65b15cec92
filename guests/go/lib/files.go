package scraper

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"syscall"
)

// ReadFile returns the whole file at path, or an error naming the file and
// the cause in the words the other languages' libraries use ("reading
// /proc/stat: No such file or directory", "reading /x/y: no granted
// directory holds it").
//
// Only the directories the operator grants exist in the sandbox; take the
// directory from a parameter so that a grant at another place still works.
// The file is read in one go: /proc files change between reads.
func ReadFile(path string) ([]byte, error) {
	data, err := os.ReadFile(path)
	if err == nil {
		return data, nil
	}
	cause := err
	var pathErr *fs.PathError
	if errors.As(err, &pathErr) {
		cause = pathErr.Err
	}
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("reading %s: No such file or directory", path)
	case errors.Is(err, syscall.EBADF):
		// Go's wasip1 port answers EBADF for a path under no preopened
		// directory.
		return nil, fmt.Errorf("reading %s: no granted directory holds it", path)
	}
	return nil, fmt.Errorf("reading %s: %v", path, cause)
}
