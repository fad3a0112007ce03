package aicc_test

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/aiccfb/aicc"
)

func TestMessagingFor(t *testing.T) {
	last := time.Date(2026, 3, 28, 23, 30, 0, 0, time.UTC)
	tests := []struct {
		name string
		age  time.Duration
		typ  aicc.MessagingType
		tag  string
	}{
		{"just now", 0, aicc.MessagingResponse, ""},
		{"clocks apart: a message from the future", -time.Minute, aicc.MessagingResponse, ""},
		{"an hour", time.Hour, aicc.MessagingResponse, ""},
		{"just inside 24 h", 24*time.Hour - time.Nanosecond, aicc.MessagingResponse, ""},
		{"exactly 24 h: the tag", 24 * time.Hour, aicc.MessagingMessageTag, aicc.TagHumanAgent},
		{"3 days", 72 * time.Hour, aicc.MessagingMessageTag, aicc.TagHumanAgent},
		{"just inside 7 days", 7*24*time.Hour - time.Nanosecond, aicc.MessagingMessageTag, aicc.TagHumanAgent},
		{"exactly 7 days: refused", 7 * 24 * time.Hour, "", ""},
		{"a month", 30 * 24 * time.Hour, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			typ, tag, err := aicc.MessagingFor(last, last.Add(tt.age))
			assert.Equal(t, tt.typ, typ)
			assert.Equal(t, tt.tag, tag)
			if tt.typ == "" {
				require.Error(t, err)
				assert.Equal(t, aicc.EOUTSIDEWINDOW, aicc.ErrorCode(err))
				return
			}
			require.NoError(t, err)
			// What MessagingFor answers is a message the Send API takes.
			msg := aicc.OutboundMessage{RecipientPSID: "7001", Text: "hello", Type: typ, Tag: tag}
			assert.NoError(t, msg.Validate())
		})
	}

	t.Run("never wrote", func(t *testing.T) {
		_, _, err := aicc.MessagingFor(time.Time{}, last)
		assert.Equal(t, aicc.EOUTSIDEWINDOW, aicc.ErrorCode(err))
	})
	t.Run("zones do not matter", func(t *testing.T) {
		tokyo := time.FixedZone("JST", 9*3600)
		typ, _, err := aicc.MessagingFor(last.In(tokyo), last.Add(24*time.Hour-time.Second))
		require.NoError(t, err)
		assert.Equal(t, aicc.MessagingResponse, typ)
	})
	assert.Equal(t, "OUTSIDE_MESSAGING_WINDOW", aicc.EOUTSIDEWINDOW)
	assert.True(t, aicc.IsCode(aicc.EOUTSIDEWINDOW))
	assert.True(t, aicc.IsCode(aicc.EAMBIGUOUSSEND))
}

func TestOutboundMessageMetadata(t *testing.T) {
	msg := aicc.OutboundMessage{RecipientPSID: "7001", Text: "hi", Type: aicc.MessagingResponse}
	for _, tt := range []struct {
		metadata string
		ok       bool
	}{
		{"", true},
		{aicc.OutboundMetadata("cv_x/1"), true},
		{strings.Repeat("é", aicc.MaxMessageMetadata), true}, // characters, not bytes
		{strings.Repeat("a", aicc.MaxMessageMetadata+1), false},
		{"bad \xff utf-8", false},
	} {
		msg.Metadata = tt.metadata
		err := msg.Validate()
		if tt.ok {
			assert.NoError(t, err, "%.20q", tt.metadata)
			continue
		}
		require.Error(t, err, "%.20q", tt.metadata)
		var e *aicc.Error
		require.ErrorAs(t, err, &e)
		assert.Contains(t, e.Fields, "metadata")
	}
}

func TestOutboundMetadata(t *testing.T) {
	md := aicc.OutboundMetadata("cv_abc/7")
	assert.Equal(t, "aicc:cv_abc/7", md)
	id, ok := aicc.OutboundIDOf(md)
	assert.True(t, ok)
	assert.Equal(t, "cv_abc/7", id)
	for _, other := range []string{"", "aicc:", "something else", "AICC:cv_abc/7"} {
		_, ok := aicc.OutboundIDOf(other)
		assert.False(t, ok, other)
	}
	// The longest outbound ID fits Meta's limit with the prefix.
	assert.LessOrEqual(t, len(aicc.OutboundMetadata(strings.Repeat("x", aicc.MaxOutboundID))), aicc.MaxMessageMetadata)
}

func TestOutboundRecordValidate(t *testing.T) {
	valid := aicc.OutboundRecord{ID: "cv_abc/1", TenantID: "ten_1", ChannelID: "ch_1", PageID: "1", PSID: "2",
		ConversationID: "cv_abc", Purpose: aicc.PurposeAgent}
	require.NoError(t, valid.Validate())
	for _, p := range aicc.OutboundPurposes {
		r := valid
		r.Purpose = p
		assert.NoError(t, r.Validate(), p)
	}

	bad := aicc.OutboundRecord{ID: strings.Repeat("x", aicc.MaxOutboundID+1), Purpose: "marketing"}
	err := bad.Validate()
	var e *aicc.Error
	require.ErrorAs(t, err, &e)
	assert.Equal(t, aicc.EINVALID, e.Code)
	for _, field := range []string{"outboundId", "tenantId", "channelId", "pageId", "psid", "conversationId", "purpose"} {
		assert.Contains(t, e.Fields, field)
	}
}
