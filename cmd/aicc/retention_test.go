package main

import (
	"strings"
	"testing"
	"time"

	"github.com/aiccfb/aicc/workflows"
)

func TestInboxRetentionConfig(t *testing.T) {
	def, err := ConfigFromEnv(env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if def.InboxRetention != 720*time.Hour || def.DeadLetterRetention != 2160*time.Hour {
		t.Errorf("default retention = %v, %v, want 720h, 2160h", def.InboxRetention, def.DeadLetterRetention)
	}
	got, err := ConfigFromEnv(env(map[string]string{"AICC_INBOX_RETENTION": "168h", "AICC_DEAD_LETTER_RETENTION": "1h"}))
	if err != nil {
		t.Fatal(err)
	}
	want := workflows.InboxRetentionSchedule{Input: workflows.InboxRetentionInput{DeliveredAge: 168 * time.Hour, DeadAge: time.Hour}}
	if s := inboxRetentionSchedule(got); s != want {
		t.Errorf("schedule = %+v, want %+v", s, want)
	}
	for key, value := range map[string]string{"AICC_INBOX_RETENTION": "30d", "AICC_DEAD_LETTER_RETENTION": "59m"} {
		if _, err := ConfigFromEnv(env(map[string]string{key: value})); err == nil || !strings.Contains(err.Error(), key) {
			t.Errorf("%s=%s: error %v, want one naming the variable", key, value, err)
		}
	}
}
