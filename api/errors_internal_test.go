package api

import (
	"testing"

	"github.com/aiccfb/aicc"
)

// A code without a status would be answered INTERNAL, hiding a domain error from the caller.
func TestEveryErrorCodeHasAStatus(t *testing.T) {
	for _, code := range aicc.Codes() {
		if _, ok := statuses[code]; !ok {
			t.Errorf("code %s has no HTTP status in api/errors.go", code)
		}
	}
}
