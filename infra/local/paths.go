// Package local is the project's local system: it starts the emulators of the AWS
// services (DynamoDB Local, moto, maildev) installed by infra/install.sh, creates in
// them the resources template.yaml declares, and serves the functions behind the
// local API Gateway (infra/gateway) and the DynamoDB stream pollers (infra/streams).
//
// The process environment is the functions' configuration (as in Lambda), so Start
// sets it with os.Setenv: one System runs per process at a time.
package local

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

// Paths of the installed tools, relative to the repo root. install.sh keeps each
// symlink pointing at the pinned version and writes .installed when a tool is
// complete.
const (
	dynamoDBLocalDir = ".cache/dynamodb-local"
	motoDir          = ".cache/moto"
	maildevDir       = ".cache/maildev"
	samDir           = ".cache/sam-venv"
	logsDir          = ".cache/logs"

	dynamoDBMainClass = "software.amazon.dynamodb.services.local.main.ServerRunner"
	motoServerBin     = "bin/moto_server"
	maildevScript     = "node_modules/maildev/dist/bin/maildev.js"
)

// FindRoot returns the repo root: the nearest directory at or above the working
// directory that holds template.yaml and go.mod.
func FindRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if fileExists(filepath.Join(dir, "template.yaml")) && fileExists(filepath.Join(dir, "go.mod")) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("local: no template.yaml and go.mod at or above the working directory")
		}
		dir = parent
	}
}

// Missing lists what the local services need and is not installed under root (""
// finds the root), in words a person can act on; empty when all is there.
func Missing(root string) []string {
	if root == "" {
		r, err := FindRoot()
		if err != nil {
			return []string{err.Error()}
		}
		root = r
	}
	var out []string
	for _, t := range []struct{ name, dir string }{
		{"DynamoDB Local", dynamoDBLocalDir},
		{"moto", motoDir},
		{"maildev", maildevDir},
	} {
		if !fileExists(filepath.Join(root, t.dir, ".installed")) {
			out = append(out, fmt.Sprintf("%s (%s)", t.name, t.dir))
		}
	}
	for _, bin := range []string{"java", "node"} {
		if _, err := exec.LookPath(bin); err != nil {
			out = append(out, bin+" on PATH")
		}
	}
	return out
}

// Installed tells whether the local services are installed (infra/install.sh
// services), so that integration tests can run.
func Installed() bool { return len(Missing("")) == 0 }

// InstallHint is the command that installs the local services.
const InstallHint = "bash infra/install.sh services"

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}
