package robot_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/aiccfb/aicc"
	"github.com/aiccfb/aicc/robot"
)

func TestRegistry(t *testing.T) {
	reg := robot.NewRegistry(map[string]aicc.Robot{
		robot.BuiltinAccessCode: robot.Rules{},
		"r1":                    robot.NewHTTP("r1", "https://robot.example.test/aicc", robot.HTTPOptions{}),
	})
	var _ aicc.Robots = reg

	rb, err := reg.Robot(robot.BuiltinAccessCode)
	require.NoError(t, err)
	assert.Equal(t, robot.Rules{}, rb)
	_, err = reg.Robot("r1")
	require.NoError(t, err)
	_, err = reg.Robot("R1")
	assert.Equal(t, aicc.ENOTFOUND, aicc.ErrorCode(err), "access codes are exact")
	_, err = reg.Robot("")
	assert.Equal(t, aicc.ENOTFOUND, aicc.ErrorCode(err))
	assert.Equal(t, []string{"builtin", "r1"}, reg.AccessCodes())

	_, err = robot.NewRegistry(nil).Robot("r1")
	assert.Equal(t, aicc.ENOTFOUND, aicc.ErrorCode(err))
}

func TestParseEndpoints(t *testing.T) {
	got, err := robot.ParseEndpoints(" r1 = https://robot.example.test/aicc?key=k1 ,r2=http://127.0.0.1:9000,, r3=http://localhost/x ")
	require.NoError(t, err)
	assert.Equal(t, []robot.Endpoint{
		{AccessCode: "r1", URL: "https://robot.example.test/aicc?key=k1"},
		{AccessCode: "r2", URL: "http://127.0.0.1:9000"},
		{AccessCode: "r3", URL: "http://localhost/x"},
	}, got)

	got, err = robot.ParseEndpoints("")
	require.NoError(t, err)
	assert.Empty(t, got)

	for in, want := range map[string]string{
		"r1":                                      "want access-code=URL",
		"=https://robot.example.test":             "want access-code=URL",
		"r 1=https://robot.example.test":          "white space",
		strings.Repeat("r", 65) + "=https://x":    "at most 64",
		"builtin=https://robot.example.test":      "built-in",
		"r1=https://a.test,r1=https://b.test":     `"r1": given twice`,
		"r1=ftp://robot.example.test":             "absolute http(s) URL",
		"r1=/relative":                            "absolute http(s) URL",
		"r1=https://user:pass@robot.example.test": "credentials",
		"r1=https://robot.example.test/#frag":     "fragment",
	} {
		_, err := robot.ParseEndpoints(in)
		require.Error(t, err, in)
		assert.Contains(t, err.Error(), want, in)
		assert.NotContains(t, err.Error(), "pass", "never the URL")
	}
}

func TestEndpointPlain(t *testing.T) {
	for url, plain := range map[string]bool{
		"https://robot.example.test":    false,
		"http://127.0.0.1:9000/aicc":    false,
		"http://127.8.0.1":              false,
		"http://[::1]:9000":             false,
		"http://LOCALHOST:9000":         false,
		"http://robot.example.test":     true,
		"http://10.0.0.5:9000":          true,
		"http://localhost.example.test": true,
	} {
		assert.Equal(t, plain, robot.Endpoint{AccessCode: "r1", URL: url}.Plain(), url)
	}
}
