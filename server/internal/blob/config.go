package blob

import (
	"context"
	"errors"
	"fmt"
)

// Config selects and configures a store; see the package documentation for
// its YAML shape.
type Config struct {
	// Driver is "local" or "s3"; "" means "local".
	Driver string `yaml:"driver"`
	// Dir is the local store's directory (driver "local").
	Dir string `yaml:"dir"`

	// The S3 settings (driver "s3").
	Bucket string `yaml:"bucket"`
	// Prefix is put before every key ([S3.Prefix]).
	Prefix string `yaml:"prefix"`
	// Region overrides the configured AWS region.
	Region string `yaml:"region"`
	// Endpoint overrides the service endpoint: an S3-compatible server
	// (MinIO), a VPC endpoint, a test server.
	Endpoint string `yaml:"endpoint"`
	// PathStyle addresses objects as endpoint/bucket/key rather than
	// bucket.endpoint/key; most S3-compatible servers need it.
	PathStyle bool `yaml:"pathStyle"`
	// AccessKeyID and SecretAccessKey, set together, are static credentials;
	// without them the default AWS chain (environment, shared config,
	// instance role) supplies them.
	AccessKeyID     string `yaml:"accessKeyId"`
	SecretAccessKey string `yaml:"secretAccessKey"`
}

// String describes c without the secret access key.
func (c Config) String() string {
	secret := ""
	if c.SecretAccessKey != "" {
		secret = "<redacted>"
	}
	return fmt.Sprintf("{Driver:%q Dir:%q Bucket:%q Prefix:%q Region:%q Endpoint:%q PathStyle:%t AccessKeyID:%q SecretAccessKey:%q}",
		c.Driver, c.Dir, c.Bucket, c.Prefix, c.Region, c.Endpoint, c.PathStyle, c.AccessKeyID, secret)
}

// GoString is String, so %#v does not print the secret either.
func (c Config) GoString() string { return "blob.Config" + c.String() }

// Open builds the store cfg describes. It refuses a local store without a
// directory or with S3 settings, an S3 store without a bucket or with a
// directory, half a pair of static credentials, and an unknown driver. The
// local directory is created on first Put; an S3 store does no network I/O
// until used.
func Open(cfg Config) (Store, error) {
	switch cfg.Driver {
	case "", "local":
		if cfg.Dir == "" {
			return nil, errors.New("blob: driver local: no directory (set blob.dir)")
		}
		if s3Set := cfg.Bucket != "" || cfg.Prefix != "" || cfg.Region != "" || cfg.Endpoint != "" ||
			cfg.PathStyle || cfg.AccessKeyID != "" || cfg.SecretAccessKey != ""; s3Set {
			return nil, errors.New("blob: driver local: bucket, prefix, region, endpoint, pathStyle and credentials apply only to driver s3")
		}
		return Local{Dir: cfg.Dir}, nil
	case "s3":
		if cfg.Dir != "" {
			return nil, errors.New("blob: driver s3: dir applies only to driver local")
		}
		s, err := NewS3(context.Background(), cfg)
		if err != nil {
			return nil, err
		}
		return s, nil
	default:
		return nil, fmt.Errorf("blob: unknown driver %q (want \"local\" or \"s3\")", cfg.Driver)
	}
}
