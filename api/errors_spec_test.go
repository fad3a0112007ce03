package api_test

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/aiccfb/aicc"
)

// Every error code of the domain is one the spec's Error lists, so that a client generated from the spec knows
// it and the harness's response validation accepts it.
func TestSpecListsEveryErrorCode(t *testing.T) {
	spec, _ := loadSpec(t)
	code := spec.Components.Schemas["Error"].Value.Properties["error"].Value.Properties["code"].Value
	listed := map[string]bool{}
	for _, v := range code.Enum {
		listed[v.(string)] = true
	}
	for _, c := range aicc.Codes() {
		assert.True(t, listed[c], "api/openapi.yaml's Error code enum lacks %s", c)
	}
}
