package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"gopkg.in/yaml.v3"
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
