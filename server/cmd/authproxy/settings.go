package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"
	"gopkg.in/yaml.v3"

	"github.com/authproxy/authproxy/sdk"
)

// settings are what the human-facing commands need to reach and sign for the server.
// Each comes from a flag, else an AUTHPROXY_* variable, else ~/.authproxy.yaml.
type settings struct {
	Actor          string `yaml:"actor"`
	PrivateKeyFile string `yaml:"privateKeyFile"`
	AdminURL       string `yaml:"adminUrl"`
	APIURL         string `yaml:"apiUrl"`
}

func settingsFile() string {
	if p := os.Getenv("AUTHPROXY_SETTINGS_FILE"); p != "" {
		return p
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return ""
	}
	return filepath.Join(home, ".authproxy.yaml")
}

// resolve fills empty fields of flags from the environment, then the settings file.
func resolve(flags settings) (settings, error) {
	s := flags
	env := settings{
		Actor: os.Getenv("AUTHPROXY_ACTOR"), PrivateKeyFile: os.Getenv("AUTHPROXY_PRIVATE_KEY_FILE"),
		AdminURL: os.Getenv("AUTHPROXY_ADMIN_URL"), APIURL: os.Getenv("AUTHPROXY_API_URL"),
	}
	fill(&s, env)
	if path := settingsFile(); path != "" {
		b, err := os.ReadFile(path)
		switch {
		case errors.Is(err, os.ErrNotExist):
		case err != nil:
			return s, fmt.Errorf("settings %s: %w", path, err)
		default:
			var file settings
			if err := yaml.Unmarshal(b, &file); err != nil {
				return s, fmt.Errorf("settings %s: %w", path, err)
			}
			fill(&s, file)
		}
	}
	return s, nil
}

func fill(dst *settings, src settings) {
	if dst.Actor == "" {
		dst.Actor = src.Actor
	}
	if dst.PrivateKeyFile == "" {
		dst.PrivateKeyFile = src.PrivateKeyFile
	}
	if dst.AdminURL == "" {
		dst.AdminURL = src.AdminURL
	}
	if dst.APIURL == "" {
		dst.APIURL = src.APIURL
	}
}

// addSignerFlags registers the flags that name the actor and its private key.
func addSignerFlags(cmd *cobra.Command, s *settings) {
	f := cmd.Flags()
	f.StringVar(&s.Actor, "actor", "", "actor id (act_…) or <namespace>/<externalId> (env AUTHPROXY_ACTOR)")
	f.StringVar(&s.PrivateKeyFile, "private-key-file", "", "PEM or OpenSSH private key (env AUTHPROXY_PRIVATE_KEY_FILE)")
}

// requireSigner reports which of the actor and private key file is missing, if any.
func requireSigner(s settings) error {
	if s.Actor == "" {
		return errors.New("no actor: pass --actor or set AUTHPROXY_ACTOR")
	}
	if s.PrivateKeyFile == "" {
		return errors.New("no private key: pass --private-key-file or set AUTHPROXY_PRIVATE_KEY_FILE")
	}
	return nil
}

// adminClient resolves flags and returns an SDK client for the admin service that signs
// every request as the configured actor, and the admin URL it talks to.
func adminClient(flags settings) (*sdk.ClientWithResponses, string, error) {
	s, err := resolve(flags)
	if err != nil {
		return nil, "", err
	}
	if err := requireSigner(s); err != nil {
		return nil, "", err
	}
	if s.AdminURL == "" {
		return nil, "", errors.New("no admin URL: pass --admin-url or set AUTHPROXY_ADMIN_URL")
	}
	c, err := sdk.NewClientFromKeyFile(s.AdminURL, s.Actor, s.PrivateKeyFile, sdk.AudienceAdmin)
	if err != nil {
		return nil, "", err
	}
	return c, s.AdminURL, nil
}
