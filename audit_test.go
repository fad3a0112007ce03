package aicc_test

import (
	"errors"
	"testing"
	"time"

	"github.com/aiccfb/aicc"
)

func TestAuditEntryValidate(t *testing.T) {
	valid := func() *aicc.AuditEntry {
		return &aicc.AuditEntry{
			TenantID: "ten_a", Actor: aicc.TokenActor(aicc.Principal{TokenID: "tok_a", TenantID: "ten_a", Role: aicc.RoleTenantAdmin}),
			Action: aicc.AuditChannelCreate, Target: aicc.AuditTarget{Type: aicc.TargetChannel, ID: "ch_a"},
			At: time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC),
		}
	}
	if err := valid().Validate(); err != nil {
		t.Fatalf("valid entry: %v", err)
	}
	cli := valid()
	cli.Actor = aicc.CLIActor("aicc tokens create")
	if err := cli.Validate(); err != nil {
		t.Fatalf("CLI entry: %v", err)
	}
	tests := []struct {
		field  string
		change func(e *aicc.AuditEntry)
	}{
		{"action", func(e *aicc.AuditEntry) { e.Action = "channel.rename" }},
		{"actor", func(e *aicc.AuditEntry) { e.Actor = aicc.AuditActor{} }},
		{"actor", func(e *aicc.AuditEntry) { e.Actor.TokenID = "" }},
		{"actor", func(e *aicc.AuditEntry) { e.Actor.Role = "root" }},
		{"actor", func(e *aicc.AuditEntry) { e.Actor = aicc.CLIActor("") }},
		{"target", func(e *aicc.AuditEntry) { e.Target.ID = "" }},
		{"at", func(e *aicc.AuditEntry) { e.At = time.Time{} }},
	}
	for _, tt := range tests {
		e := valid()
		tt.change(e)
		var ae *aicc.Error
		err := e.Validate()
		if !errors.As(err, &ae) || ae.Code != aicc.EINVALID || ae.Fields[tt.field] == "" {
			t.Errorf("%+v: error %v, want INVALID on %s", e, err, tt.field)
		}
	}
	for _, a := range aicc.AuditActions {
		if !a.Valid() {
			t.Errorf("%s is not valid", a)
		}
	}
}
