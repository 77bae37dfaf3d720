package encrypt

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
)

// AWSSecretsManagerSource reads the key from an AWS Secrets Manager secret
// with GetSecretValue. The secret is either a SecretString holding base64 or
// hex of 32 bytes (or, with JSONKey set, a JSON object whose JSONKey member
// does), or a SecretBinary of exactly 32 bytes. Material.Version is the
// secret's VersionId. [AWSSecretsManagerSource.LoadPrevious] reads the
// version labelled AWSPREVIOUS, which Secrets Manager gives the old version
// when a new one becomes AWSCURRENT.
//
// Without Client, the first Load builds one from the default AWS
// configuration chain (environment, shared config, instance role), with
// Region and Endpoint overriding it when set. Use a pointer: the built client
// is kept for later loads.
type AWSSecretsManagerSource struct {
	// SecretID is the secret's name or ARN.
	SecretID string
	// Region overrides the configured AWS region.
	Region string
	// Endpoint overrides the service endpoint (a VPC endpoint, LocalStack, a
	// test server), e.g. "https://vpce-….secretsmanager.eu-west-1.vpce.amazonaws.com".
	Endpoint string
	// VersionStage selects a staging label; "" means AWSCURRENT. With any
	// other label there is no previous material.
	VersionStage string
	// JSONKey, when set, reads the key from this member of a JSON SecretString
	// (secrets made as key/value pairs in the AWS console).
	JSONKey string
	// Client, when set, is used as it is (Region and Endpoint are then
	// ignored).
	Client *secretsmanager.Client

	mu     sync.Mutex
	client *secretsmanager.Client // built on first successful use
}

func (s *AWSSecretsManagerSource) getClient(ctx context.Context) (*secretsmanager.Client, error) {
	if s.Client != nil {
		return s.Client, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.client != nil {
		return s.client, nil
	}
	var opts []func(*config.LoadOptions) error
	if s.Region != "" {
		opts = append(opts, config.WithRegion(s.Region))
	}
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil { // not kept: the next Load tries again
		return nil, fmt.Errorf("encrypt: aws secrets manager: loading AWS config: %w", err)
	}
	s.client = secretsmanager.NewFromConfig(cfg, func(o *secretsmanager.Options) {
		if s.Endpoint != "" {
			o.BaseEndpoint = aws.String(s.Endpoint)
		}
	})
	return s.client, nil
}

// Load fetches the secret's current value (or the one VersionStage names).
func (s *AWSSecretsManagerSource) Load(ctx context.Context) (Material, error) {
	return s.load(ctx, s.VersionStage)
}

// LoadPrevious fetches the version labelled AWSPREVIOUS; ok is false when no
// version has that label, or when VersionStage names a label other than
// AWSCURRENT.
func (s *AWSSecretsManagerSource) LoadPrevious(ctx context.Context) (Material, bool, error) {
	if s.VersionStage != "" && s.VersionStage != "AWSCURRENT" {
		return Material{}, false, nil
	}
	m, err := s.load(ctx, "AWSPREVIOUS")
	if nf := (*types.ResourceNotFoundException)(nil); errors.As(err, &nf) {
		return Material{}, false, nil
	}
	return m, err == nil, err
}

func (s *AWSSecretsManagerSource) load(ctx context.Context, stage string) (Material, error) {
	if s.SecretID == "" {
		return Material{}, fmt.Errorf("encrypt: aws secrets manager: no secret id")
	}
	client, err := s.getClient(ctx)
	if err != nil {
		return Material{}, err
	}
	in := &secretsmanager.GetSecretValueInput{SecretId: aws.String(s.SecretID)}
	secret := fmt.Sprintf("%q", s.SecretID)
	if stage != "" {
		in.VersionStage = aws.String(stage)
		secret += " stage " + stage
	}
	out, err := client.GetSecretValue(ctx, in)
	if err != nil {
		// SDK errors carry the operation, status, request id and the
		// service's message, never the secret.
		return Material{}, fmt.Errorf("encrypt: aws secrets manager secret %s: %w", secret, err)
	}
	version := aws.ToString(out.VersionId)
	where := fmt.Sprintf("encrypt: aws secrets manager secret %s version %q", secret, version)

	var key []byte
	switch {
	case out.SecretBinary != nil:
		defer clear(out.SecretBinary)
		if len(out.SecretBinary) == KeySize {
			key = clone(out.SecretBinary)
		} else if key, err = decodeKey(out.SecretBinary); err != nil {
			return Material{}, fmt.Errorf("%s: SecretBinary is not %d raw bytes and its text %v", where, KeySize, err)
		}
	case out.SecretString != nil:
		text := *out.SecretString
		if s.JSONKey != "" {
			var obj map[string]any
			if json.Unmarshal([]byte(text), &obj) != nil {
				return Material{}, fmt.Errorf("%s: SecretString is not a JSON object (json_key %q is set)", where, s.JSONKey)
			}
			v, ok := obj[s.JSONKey].(string)
			if !ok {
				return Material{}, fmt.Errorf("%s: SecretString has no string member %q", where, s.JSONKey)
			}
			text = v
		}
		if key, err = decodeKey([]byte(text)); err != nil {
			return Material{}, fmt.Errorf("%s: SecretString %v", where, err)
		}
	default:
		return Material{}, fmt.Errorf("%s: neither SecretString nor SecretBinary is set", where)
	}
	if version == "" {
		version = Fingerprint(key)
	}
	return Material{Key: key, Version: version}, nil
}
