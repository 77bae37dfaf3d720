package blob

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// S3 stores each blob as the object Prefix+key in Bucket.
//
// Put sends one PutObject with the exact Content-Length and streams the body
// once, unbuffered (bodies are size-capped upstream, so no multipart upload).
// The payload is sent as UNSIGNED-PAYLOAD and flexible checksums only when
// an operation requires them, which is what lets an unseekable body stream
// over plain HTTP (MinIO on a private network) as well as HTTPS; integrity
// comes from TLS and from the seal callers apply to every body. Since the
// body is read once, the SDK does not retry a Put; Get and Delete are retried
// as the client's retryer says.
type S3 struct {
	// Client is the S3 client; [NewS3] builds one from a [Config]. Put sets
	// the per-call options it needs, so a client made elsewhere works too.
	Client *s3.Client
	// Bucket is the bucket name.
	Bucket string
	// Prefix, when set, is put before every key, with a '/' between them
	// unless Prefix ends in one ("bodies" and "bodies/" both store key "k"
	// as "bodies/k").
	Prefix string
}

var _ Store = (*S3)(nil)

// NewS3 builds an S3 store from cfg (Driver is ignored), configuring the
// client like the encryption package's Secrets Manager source: the default
// AWS configuration chain with Region and Endpoint overriding it, plus the
// path-style option and, when AccessKeyID and SecretAccessKey are both set,
// static credentials instead of the chain's. It does no network I/O.
func NewS3(ctx context.Context, cfg Config) (*S3, error) {
	if cfg.Bucket == "" {
		return nil, errors.New("blob: driver s3: no bucket (set blob.bucket)")
	}
	if (cfg.AccessKeyID == "") != (cfg.SecretAccessKey == "") {
		return nil, errors.New("blob: driver s3: accessKeyId and secretAccessKey must be set together")
	}
	if cfg.Prefix != "" {
		if err := ValidateKey(strings.TrimSuffix(cfg.Prefix, "/")); err != nil {
			return nil, fmt.Errorf("blob: driver s3: prefix: %w", err)
		}
	}
	var opts []func(*config.LoadOptions) error
	if cfg.Region != "" {
		opts = append(opts, config.WithRegion(cfg.Region))
	}
	if cfg.AccessKeyID != "" {
		opts = append(opts, config.WithCredentialsProvider(
			credentials.NewStaticCredentialsProvider(cfg.AccessKeyID, cfg.SecretAccessKey, "")))
	}
	awsCfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("blob: driver s3: loading AWS config: %w", err)
	}
	if awsCfg.Region == "" {
		return nil, errors.New("blob: driver s3: no region (set blob.region or AWS_REGION)")
	}
	client := s3.NewFromConfig(awsCfg, func(o *s3.Options) {
		if cfg.Endpoint != "" {
			o.BaseEndpoint = aws.String(cfg.Endpoint)
		}
		o.UsePathStyle = cfg.PathStyle
		o.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
		// Responses are still checked when they carry a checksum; one
		// without (S3-compatible servers) is no reason to log.
		o.DisableLogOutputChecksumValidationSkipped = true
	})
	return &S3{Client: client, Bucket: cfg.Bucket, Prefix: cfg.Prefix}, nil
}

func (s *S3) objectKey(key string) (string, error) {
	if err := ValidateKey(key); err != nil {
		return "", err
	}
	if s.Bucket == "" {
		return "", errors.New("blob: s3 store has no bucket")
	}
	if s.Prefix == "" {
		return key, nil
	}
	if strings.HasSuffix(s.Prefix, "/") {
		return s.Prefix + key, nil
	}
	return s.Prefix + "/" + key, nil
}

// Put implements [Store].
func (s *S3) Put(ctx context.Context, key string, r io.Reader, size int64) error {
	obj, err := s.objectKey(key)
	if err != nil {
		return err
	}
	if err := checkSize(size); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	body := &sizedReader{ctx: ctx, r: r, left: size}
	_, err = s.Client.PutObject(ctx, &s3.PutObjectInput{
		Bucket:        aws.String(s.Bucket),
		Key:           aws.String(obj),
		Body:          body,
		ContentLength: aws.Int64(size),
		ContentType:   aws.String("application/octet-stream"),
	}, s3.WithAPIOptions(v4.SwapComputePayloadSHA256ForUnsignedPayloadMiddleware),
		func(o *s3.Options) {
			// The body is read once: a retry could not resend it.
			o.RetryMaxAttempts = 1
			o.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
		})
	if err != nil {
		// The body's own error (short, long, failed, cancelled) explains
		// more than the transport's report of it.
		if body.err != nil && body.err != io.EOF {
			return fmt.Errorf("blob: put %q: %w", key, body.err)
		}
		return s.opError("put", key, err)
	}
	return nil
}

// Get implements [Store]. The object's body is streamed.
func (s *S3) Get(ctx context.Context, key string) (io.ReadCloser, error) {
	obj, err := s.objectKey(key)
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	out, err := s.Client.GetObject(ctx, &s3.GetObjectInput{
		Bucket: aws.String(s.Bucket),
		Key:    aws.String(obj),
	})
	if err != nil {
		if isMissingKey(err) {
			return nil, fmt.Errorf("%w: %q", ErrNotFound, key)
		}
		return nil, s.opError("get", key, err)
	}
	return ctxReadCloser{ctx: ctx, ReadCloser: out.Body}, nil
}

// Delete implements [Store].
func (s *S3) Delete(ctx context.Context, key string) error {
	obj, err := s.objectKey(key)
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	_, err = s.Client.DeleteObject(ctx, &s3.DeleteObjectInput{
		Bucket: aws.String(s.Bucket),
		Key:    aws.String(obj),
	})
	if err != nil && !isMissingKey(err) { // S3 itself answers 204 for a missing key
		return s.opError("delete", key, err)
	}
	return nil
}

// isMissingKey reports whether err says the object (not the bucket) does not
// exist: NoSuchKey, or a 404 without another error code (HEAD responses and
// some S3-compatible servers carry none).
func isMissingKey(err error) bool {
	if nsk := (*types.NoSuchKey)(nil); errors.As(err, &nsk) {
		return true
	}
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		switch apiErr.ErrorCode() {
		case "NoSuchKey", "NotFound":
			return true
		case "NoSuchBucket":
			return false
		}
	}
	var respErr *smithyhttp.ResponseError
	if errors.As(err, &respErr) && respErr.HTTPStatusCode() == http.StatusNotFound {
		return apiErr == nil || apiErr.ErrorCode() == "" || apiErr.ErrorCode() == "404"
	}
	return false
}

// opError wraps an SDK error, naming a missing bucket plainly. SDK errors
// carry the operation, status, request id and the service's message; never
// credentials.
func (s *S3) opError(op, key string, err error) error {
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) && apiErr.ErrorCode() == "NoSuchBucket" {
		return fmt.Errorf("blob: %s %q: s3 bucket %q does not exist: %w", op, key, s.Bucket, err)
	}
	return fmt.Errorf("blob: %s %q: s3 bucket %q: %w", op, key, s.Bucket, err)
}
