package blob

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

// Local stores each blob as a file under Dir, the key's segments as
// subdirectories. Directories it creates are 0700 and files 0600. Put writes
// a temporary file in the blob's directory, fsyncs it, renames it over the
// final name and fsyncs the directory, so a crash or a failed Put never
// leaves a partial blob under the final name. Temporary names end in '~',
// which no key can, so they never collide with a blob.
//
// Delete does not remove directories left empty.
type Local struct {
	// Dir holds the blobs; it is created on first Put if missing.
	Dir string
}

var _ Store = Local{}

const tempPattern = ".put-*~"

// notDirErr is the error for a path through a file (key "a/b" when "a" is a
// blob): no blob there.
var notDirErr = syscall.ENOTDIR

func (l Local) path(key string) (string, error) {
	if err := ValidateKey(key); err != nil {
		return "", err
	}
	if l.Dir == "" {
		return "", errors.New("blob: local store has no directory")
	}
	return filepath.Join(l.Dir, filepath.FromSlash(key)), nil
}

// Put implements [Store].
func (l Local) Put(ctx context.Context, key string, r io.Reader, size int64) (err error) {
	name, err := l.path(key)
	if err != nil {
		return err
	}
	if err := checkSize(size); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	dir := filepath.Dir(name)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("blob: put %q: %w", key, err)
	}
	f, err := os.CreateTemp(dir, tempPattern) // mode 0600
	if err != nil {
		return fmt.Errorf("blob: put %q: %w", key, err)
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if _, err := io.Copy(f, &sizedReader{ctx: ctx, r: r, left: size}); err != nil {
		return fmt.Errorf("blob: put %q: %w", key, err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("blob: put %q: %w", key, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("blob: put %q: %w", key, err)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := os.Rename(tmp, name); err != nil {
		return fmt.Errorf("blob: put %q: %w", key, err)
	}
	// Make the rename durable. The blob is in place already, so a failure
	// here is not reported as a failed Put.
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		_ = d.Close()
	}
	return nil
}

// Get implements [Store]. The file is streamed, never read whole.
func (l Local) Get(ctx context.Context, key string) (io.ReadCloser, error) {
	name, err := l.path(key)
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	f, err := os.Open(name)
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, notDirErr) {
		return nil, fmt.Errorf("%w: %q", ErrNotFound, key)
	}
	if err != nil {
		return nil, fmt.Errorf("blob: get %q: %w", key, err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("blob: get %q: %w", key, err)
	}
	if !st.Mode().IsRegular() { // a directory: the prefix of other keys
		f.Close()
		return nil, fmt.Errorf("%w: %q", ErrNotFound, key)
	}
	return ctxReadCloser{ctx: ctx, ReadCloser: f}, nil
}

// Delete implements [Store].
func (l Local) Delete(ctx context.Context, key string) error {
	name, err := l.path(key)
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	st, err := os.Lstat(name)
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, notDirErr) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("blob: delete %q: %w", key, err)
	}
	if st.IsDir() { // not a blob; never remove a directory
		return nil
	}
	if err := os.Remove(name); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("blob: delete %q: %w", key, err)
	}
	return nil
}
