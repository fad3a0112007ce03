package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/aiccfb/aicc"
	"github.com/aiccfb/aicc/internal/codec"
	"github.com/aiccfb/aicc/meta/metatest"
	"github.com/aiccfb/aicc/workflows"
)

// TestPayloadsEncryptedEndToEnd: what a customer writes reaches Temporal only encrypted: the histories of the
// conversation, of the Page's connection and of the onboarding, as Temporal serves them, hold the text, the
// Page ID and the customer ID nowhere, while decrypted the conversation's holds them all. The codec server
// decrypts a payload of that history for a sysadmin token only.
func TestPayloadsEncryptedEndToEnd(t *testing.T) {
	s, pageToken := newStack(t)
	ctx := context.Background()
	s.uploadCertificate()
	id, _ := s.activeChannel("fb_codec", pageToken)
	s.startDispatcher("e2e-codec")
	text := "my card number is " + strings.TrimPrefix(canary(t, "customer-text"), "CANARY-")
	sender := &metatest.WebhookSender{URL: s.callback(id), AppSecret: s.appSecret, Algorithm: aicc.AlgorithmSHA256}
	s.post(sender, expectations{}, id, metatest.NewEntry(fakePageID,
		metatest.Text(fakePageID, fakePSID, "m_codec_1", text, time.Now().UnixMilli())))

	wid := workflows.ConversationWorkflowID(id, fakePageID, fakePSID)
	eventually(t, 15*time.Second, "the conversation's workflow", func() bool {
		_, err := s.temporal.DescribeWorkflowExecution(ctx, wid, "")
		return err == nil
	})
	eventually(t, 15*time.Second, "the conversation's history holds the message", func() bool {
		return strings.Contains(s.history(ctx, wid).String(), text)
	})
	// Not even the workflow IDs, which Temporal shows in clear, name the Page or the customer.
	for _, wid := range []string{wid, workflows.ConnectPageWorkflowID(id, fakePageID), workflows.OnboardingWorkflowID(id)} {
		raw := s.rawHistory(ctx, wid).String()
		for what, clear := range map[string]string{"customer text": text, "Page ID": fakePageID, "customer ID": fakePSID} {
			if strings.Contains(raw, clear) {
				t.Errorf("the %s is in clear in the history of %s as Temporal serves it", what, wid)
			}
		}
	}

	// The codec server, as the Web UI or the Temporal CLI call it with the history's payloads.
	it := s.temporal.GetWorkflowHistory(ctx, wid, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	first, err := it.Next()
	if err != nil {
		t.Fatal(err)
	}
	input := first.GetWorkflowExecutionStartedEventAttributes().GetInput()
	body, err := protojson.Marshal(input)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(codec.Handler(s.codec, authorizeSysadmin(s.store), ""))
	defer srv.Close()
	decode := func(token string) (int, string) {
		req, _ := http.NewRequest(http.MethodPost, srv.URL+"/decode", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	status, out := decode(s.sysToken)
	var decoded commonpb.Payloads
	if status != http.StatusOK || protojson.Unmarshal([]byte(out), &decoded) != nil || len(decoded.GetPayloads()) == 0 ||
		!strings.Contains(string(decoded.GetPayloads()[0].GetData()), fakePSID) {
		t.Errorf("decode with a sysadmin token = %d %s, want the conversation's input with the customer ID", status, out)
	}
	encodedPSID := base64.StdEncoding.EncodeToString([]byte(fakePSID))
	for who, token := range map[string]string{"no token": "", "a tenant admin": s.token, "a wrong token": "aicc_wrong"} {
		if status, out := decode(token); status != http.StatusUnauthorized || strings.Contains(out, fakePSID) ||
			strings.Contains(out, encodedPSID) {
			t.Errorf("decode with %s = %d %s, want 401 and nothing decoded", who, status, out)
		}
	}
}
