package aicc_test

import (
	"crypto/sha256"
	"encoding/base32"
	"strings"
	"testing"

	"github.com/aiccfb/aicc"
)

// A conversation's ID is stored with it, so it never changes: the SHA-256 of channel, Page and customer IDs
// joined by NUL bytes. Neither it nor a Page's ref shows the Page's or the customer's ID.
func TestOpaqueIDs(t *testing.T) {
	sum := sha256.Sum256([]byte("ch_1\x0010000000012\x007001000000000001"))
	want := "cv_" + strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(sum[:16]))
	if got := aicc.ConversationID("ch_1", "10000000012", "7001000000000001"); got != want {
		t.Errorf("ConversationID = %s, want %s", got, want)
	}
	ref := aicc.PageRef("10000000012")
	if !strings.HasPrefix(ref, "pg_") || strings.Contains(ref, "10000000012") || ref == aicc.PageRef("10000000013") {
		t.Errorf("PageRef = %s", ref)
	}
}
