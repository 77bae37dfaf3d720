// Package blob stores recorded request and response bodies as opaque blobs
// under string keys, on the local filesystem ([Local], the default) or in an
// S3 bucket ([S3], for production; any S3-compatible server such as MinIO
// works through Endpoint and PathStyle).
//
// Encryption is not done here: callers seal each body with the namespace's
// key (package encrypt) before [Store.Put] and open it after [Store.Get]. A
// store only ever sees ciphertext, and integrity comes from that seal.
//
// Keys are validated before any I/O by [ValidateKey]: characters
// [A-Za-z0-9._/-] only, at most [MaxKeyLen] bytes, no leading '/', and no
// empty, "." or ".." segment, so a key can never name a file outside
// [Local.Dir] nor two keys the same object. On the local filesystem a key
// cannot be both a blob and the directory of another key ("a" and "a/b");
// structured keys such as "<namespace>/<yyyy>/<mm>/<dd>/<id>.req" never are.
//
// # Configuration
//
// [Open] builds a store from a [Config]. The expected YAML shape, under the
// server configuration's "blob" section, is
//
//	blob:
//	  driver: local          # "local" (default in dev mode) or "s3"
//	  dir: ./.authproxy/blobs # local: the directory holding the blobs
//
// or, for S3,
//
//	blob:
//	  driver: s3
//	  bucket: authproxy-bodies      # required
//	  prefix: bodies/               # optional key prefix inside the bucket
//	  region: eu-west-1             # else AWS_REGION / shared config
//	  endpoint: http://minio:9000   # optional: S3-compatible server or VPC endpoint
//	  pathStyle: true               # optional: http://host/bucket/key addressing
//	  accessKeyId: ...              # optional, with secretAccessKey; else the
//	  secretAccessKey: ...          # default chain (env, shared config, instance role)
package blob

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
)

// Store holds blobs under keys. Implementations are safe for concurrent use.
type Store interface {
	// Put stores exactly size bytes read from r under key, replacing any
	// blob already there. If r yields fewer or more than size bytes, fails,
	// or ctx ends first, Put returns an error and key keeps its previous
	// content (or stays absent).
	Put(ctx context.Context, key string, r io.Reader, size int64) error
	// Get opens the blob under key for streaming; the caller closes it. A
	// missing key gives an error matching [ErrNotFound] with errors.Is.
	Get(ctx context.Context, key string) (io.ReadCloser, error)
	// Delete removes the blob under key. Deleting a missing key is not an
	// error.
	Delete(ctx context.Context, key string) error
}

var (
	// ErrNotFound is matched (errors.Is) by Get's error for a missing key.
	ErrNotFound = errors.New("blob: not found")
	// ErrInvalidKey is matched (errors.Is) by the error for a key that
	// [ValidateKey] refuses.
	ErrInvalidKey = errors.New("blob: invalid key")
)

// MaxKeyLen is the longest key accepted, in bytes.
const MaxKeyLen = 512

// ValidateKey reports why key cannot name a blob, or nil if it can. The error
// matches [ErrInvalidKey].
func ValidateKey(key string) error {
	if reason := keyProblem(key); reason != "" {
		if len(key) > 64 {
			key = key[:64] + "…"
		}
		return fmt.Errorf("%w %q: %s", ErrInvalidKey, key, reason)
	}
	return nil
}

func keyProblem(key string) string {
	switch {
	case key == "":
		return "empty"
	case len(key) > MaxKeyLen:
		return fmt.Sprintf("%d bytes long, more than %d", len(key), MaxKeyLen)
	case key[0] == '/':
		return "starts with '/'"
	}
	for i := 0; i < len(key); i++ {
		c := key[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == '-' || c == '/') {
			return fmt.Sprintf("byte %d is %q; only [A-Za-z0-9._/-] are allowed", i, c)
		}
	}
	for seg := range strings.SplitSeq(key, "/") {
		switch seg {
		case "":
			return "has an empty segment"
		case ".", "..":
			return fmt.Sprintf("has a %q segment", seg)
		}
	}
	return ""
}

// errSizeMismatch is the error for a reader yielding more or fewer bytes than
// Put was told.
var errSizeMismatch = errors.New("blob: body length differs from the size given")

// sizedReader reads exactly n bytes from r and then expects its end: a short
// stream fails with io.ErrUnexpectedEOF, a long one with errSizeMismatch,
// detected before the n-th byte is handed over. Each read first checks ctx.
type sizedReader struct {
	ctx  context.Context
	r    io.Reader
	left int64
	err  error
}

func (s *sizedReader) Read(p []byte) (int, error) {
	if s.err != nil {
		return 0, s.err
	}
	if err := s.ctx.Err(); err != nil {
		s.err = err
		return 0, err
	}
	if s.left == 0 {
		s.err = s.probeEnd()
		return 0, s.err
	}
	if int64(len(p)) > s.left {
		p = p[:s.left]
	}
	n, err := s.r.Read(p)
	s.left -= int64(n)
	switch {
	case err == io.EOF && s.left > 0:
		s.err = fmt.Errorf("%w: stream ended %d bytes short", io.ErrUnexpectedEOF, s.left)
	case err != nil && err != io.EOF:
		s.err = err
	case s.left == 0:
		if s.err = s.probeEnd(); s.err != io.EOF {
			// Withhold the last bytes read, so that a consumer stopping
			// at n bytes (an HTTP client sending Content-Length n) never
			// completes the upload.
			return 0, s.err
		}
	}
	if s.err == io.EOF && n > 0 {
		return n, nil // report EOF on the next call, as most readers do
	}
	return n, s.err
}

// probeEnd reads past the expected end: io.EOF if there is nothing more.
func (s *sizedReader) probeEnd() error {
	var b [1]byte
	for range 100 {
		n, err := s.r.Read(b[:])
		if n > 0 {
			return fmt.Errorf("%w: stream is longer", errSizeMismatch)
		}
		if err == io.EOF {
			return io.EOF
		}
		if err != nil {
			return err
		}
	}
	return io.ErrNoProgress
}

// checkSize validates Put's size argument.
func checkSize(size int64) error {
	if size < 0 {
		return fmt.Errorf("blob: negative size %d", size)
	}
	return nil
}

// ctxReadCloser fails reads once ctx is done, so an open blob honours the
// context of the Get that opened it.
type ctxReadCloser struct {
	ctx context.Context
	io.ReadCloser
}

func (c ctxReadCloser) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.ReadCloser.Read(p)
}
