package main

import (
	"fmt"

	"github.com/aiccfb/aicc"
	"github.com/aiccfb/aicc/robot"
)

// newRobots returns the robots of the configuration, by access code: the HTTP robots of AICC_ROBOTS and, for
// aicc dev (builtin), the built-in rule robot. A robot on plain http must be on the loopback interface, unless
// aicc dev runs with --fake-meta: what customers write would otherwise cross the network in clear.
func newRobots(cfg Config, builtin bool) (*robot.Registry, error) {
	robots := map[string]aicc.Robot{}
	for _, e := range cfg.Robots {
		if e.Plain() && !cfg.FakeMeta {
			return nil, fmt.Errorf("AICC_ROBOTS: access code %q: the URL must be https, or http on 127.0.0.1 or localhost", e.AccessCode)
		}
		robots[e.AccessCode] = robot.NewHTTP(e.AccessCode, e.URL, robot.HTTPOptions{})
	}
	if builtin {
		robots[robot.BuiltinAccessCode] = robot.Rules{}
	}
	return robot.NewRegistry(robots), nil
}
