package main

import (
	"fmt"
	"os"
	"path"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// composeFile is docker-compose.yml, relative to this package's directory.
const composeFile = "../../docker-compose.yml"

// composeService is what the checks read of a service.
type composeService struct {
	Image       string            `yaml:"image"`
	Restart     string            `yaml:"restart"`
	Environment map[string]string `yaml:"environment"`
	Volumes     []string          `yaml:"volumes"`
	Ports       []string          `yaml:"ports"`
	DependsOn   map[string]struct {
		Condition string `yaml:"condition"`
	} `yaml:"depends_on"`
}

// publicPorts are the container ports that may be published on every interface: the API's public listener,
// which Meta's webhooks must reach (its admin listener, 8081, is an admin surface).
var publicPorts = map[string][]string{"api": {"8080"}}

// composeProblems returns what is wrong with a compose file for aicc:
//   - an AICC_* variable of an aicc service that the configuration does not read (a typo is silently ignored);
//   - a file or directory a variable names (a /path or file:///path value) outside every volume of its service;
//   - a dependency on a one-shot service (restart: on-failure or no) that does not wait for it to complete;
//   - a published port of an admin surface bound beyond 127.0.0.1.
func composeProblems(doc []byte) ([]string, error) {
	var file struct {
		Services map[string]composeService `yaml:"services"`
	}
	if err := yaml.Unmarshal(doc, &file); err != nil {
		return nil, err
	}
	known := configVariables()
	var problems []string
	for _, name := range sortedKeys(file.Services) {
		svc := file.Services[name]
		if strings.HasPrefix(svc.Image, "aicc:") {
			for _, v := range sortedKeys(svc.Environment) {
				if strings.HasPrefix(v, "AICC_") && !known[v] {
					problems = append(problems, fmt.Sprintf("%s: %s is not a variable aicc reads", name, v))
				}
			}
			for _, v := range sortedKeys(svc.Environment) {
				p := strings.TrimPrefix(svc.Environment[v], "file://")
				if strings.HasPrefix(p, "/") && !onVolume(p, svc.Volumes) {
					problems = append(problems, fmt.Sprintf("%s: %s names %s, which is on no volume of the service", name, v, p))
				}
			}
		}
		for _, dep := range sortedKeys(svc.DependsOn) {
			d, ok := file.Services[dep]
			oneShot := ok && (strings.HasPrefix(d.Restart, "on-failure") || d.Restart == "no")
			if oneShot && svc.DependsOn[dep].Condition != "service_completed_successfully" {
				problems = append(problems, fmt.Sprintf("%s: starts before the one-shot %s has completed", name, dep))
			}
		}
		for _, p := range svc.Ports {
			parts := strings.Split(p, ":")
			container := parts[len(parts)-1]
			if (len(parts) < 3 || parts[0] != "127.0.0.1") && !slices.Contains(publicPorts[name], container) {
				problems = append(problems, fmt.Sprintf("%s: port %s is published beyond 127.0.0.1", name, p))
			}
		}
	}
	return problems, nil
}

// configVariables are the environment variables ConfigFromEnv reads.
func configVariables() map[string]bool {
	known := map[string]bool{}
	_, _ = ConfigFromEnv(func(name string) string { known[name] = true; return "" })
	return known
}

// onVolume reports whether p lies in a container path of one of volumes ("source:target[:mode]").
func onVolume(p string, volumes []string) bool {
	for _, v := range volumes {
		parts := strings.Split(v, ":")
		if len(parts) < 2 {
			continue
		}
		target := path.Clean(parts[1])
		if p == target || strings.HasPrefix(p, target+"/") {
			return true
		}
	}
	return false
}

func TestComposeFile(t *testing.T) {
	doc, err := os.ReadFile(composeFile)
	if err != nil {
		t.Fatal(err)
	}
	problems, err := composeProblems(doc)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Error(p)
	}
}

// The checks catch what they are for: each mutation of the real file is reported, and nothing else is.
func TestComposeChecksCatchMistakes(t *testing.T) {
	doc, err := os.ReadFile(composeFile)
	if err != nil {
		t.Fatal(err)
	}
	mutations := map[string]struct{ old, new, want string }{
		"typo in a variable": {"AICC_PUBLIC_URL:", "AICC_PUBLIC_ULR:", "AICC_PUBLIC_ULR is not a variable"},
		"key volume missing": {"    volumes:\n      - aicc-keys:/keys:ro\n    depends_on:", "    depends_on:",
			"migrate: AICC_MASTER_KEY_FILE names /keys/master.key"},
		"one-shot not awaited": {"      keygen:\n        condition: service_completed_successfully\n\n  api:",
			"      keygen:\n        condition: service_started\n\n  api:", "migrate: starts before the one-shot keygen"},
		"UI on every interface":        {`"127.0.0.1:8233:8080"`, `"8233:8080"`, "temporal-ui: port 8233:8080 is published"},
		"admin API on every interface": {`"127.0.0.1:8081:8081"`, `"8081:8081"`, "api: port 8081:8081 is published"},
	}
	for name, m := range mutations {
		t.Run(name, func(t *testing.T) {
			mutated := strings.Replace(string(doc), m.old, m.new, 1)
			if mutated == string(doc) {
				t.Fatalf("the mutation does not apply: %q is not in the file", m.old)
			}
			problems, err := composeProblems([]byte(mutated))
			if err != nil {
				t.Fatal(err)
			}
			// A mistake in the shared aicc environment shows in every service that uses it.
			if len(problems) == 0 || slices.ContainsFunc(problems, func(p string) bool { return !strings.Contains(p, m.want) }) {
				t.Errorf("problems = %q, want only ones with %q", problems, m.want)
			}
		})
	}
}
