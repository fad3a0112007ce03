package api

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/aiccfb/aicc"
)

// auditJSON is an audit entry as the API shows it: who, what, on what, when, and non-secret details (for a
// secret, its fingerprint only).
type auditJSON struct {
	ID        string            `json:"id"`
	ChannelID string            `json:"channelId,omitempty"`
	Actor     auditActorJSON    `json:"actor"`
	Action    aicc.AuditAction  `json:"action"`
	Target    auditTargetJSON   `json:"target"`
	Details   map[string]string `json:"details"`
	RequestID string            `json:"requestId,omitempty"`
	At        time.Time         `json:"at"`
}

type auditActorJSON struct {
	Type    aicc.AuditActorType `json:"type"`
	TokenID string              `json:"tokenId,omitempty"`
	Role    aicc.Role           `json:"role,omitempty"`
	Command string              `json:"command,omitempty"`
}

type auditTargetJSON struct {
	Type aicc.AuditTargetType `json:"type"`
	ID   string               `json:"id"`
}

func toAuditJSON(e *aicc.AuditEntry) auditJSON {
	details := e.Details
	if details == nil {
		details = map[string]string{}
	}
	return auditJSON{
		ID: formatAuditID(e.ID), ChannelID: e.ChannelID,
		Actor:  auditActorJSON{Type: e.Actor.Type, TokenID: e.Actor.TokenID, Role: e.Actor.Role, Command: e.Actor.Command},
		Action: e.Action, Target: auditTargetJSON{Type: e.Target.Type, ID: e.Target.ID},
		Details: details, RequestID: e.RequestID, At: e.At.UTC(),
	}
}

// formatAuditID shows an entry's ID as a string, like every other ID of the API.
func formatAuditID(id int64) string { return strconv.FormatInt(id, 10) }

// listAudit answers the tenant's audit log.
func (s *Server) listAudit(c *gin.Context) error {
	return s.answerAudit(c, aicc.AuditFilter{TenantID: principalOf(c).TenantID})
}

// listChannelAudit answers the audit log of one channel of the tenant; a channel of another tenant, or one
// that no longer exists, is NOT_FOUND (its entries stay in the tenant's log).
func (s *Server) listChannelAudit(c *gin.Context) error {
	tenant := principalOf(c).TenantID
	ch, err := s.Store.GetChannel(c.Request.Context(), tenant, c.Param("channelID"))
	if err != nil {
		return err
	}
	return s.answerAudit(c, aicc.AuditFilter{TenantID: tenant, ChannelID: ch.ID})
}

// listSystemAudit answers the system's audit log: certificates, tenants and API tokens.
func (s *Server) listSystemAudit(c *gin.Context) error {
	return s.answerAudit(c, aicc.AuditFilter{})
}

func (s *Server) answerAudit(c *gin.Context, f aicc.AuditFilter) error {
	opt, err := listOptions(c)
	if err != nil {
		return err
	}
	f.ListOptions = opt
	items, next, err := s.Store.ListAudit(c.Request.Context(), f)
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, listOf(items, next, toAuditJSON))
	return nil
}

// The audit log has two kinds of entries.
//
// A change the handler makes with one store call (channel create and update, verify-token replacement, Page
// add, certificate upload, tenant creation, a dead letter's retry) is made inside Store.Audited: the store call
// and the entry commit in one transaction, so the entry exists exactly when the change committed, and a refused
// change (400, 404, 409) leaves none.
//
// A change a workflow makes (a channel's deletion, a Page's removal, an onboarding's start, confirmation and
// cancellation) is recorded as its request (channel.delete_requested, page.remove_requested,
// channel.onboarding.start, …), appended by Audited with a nil change once Temporal has
// accepted the request (audited with a nil change): a request Temporal refused or did not take leaves none. Two gaps
// remain, both closed by the client's retry, which joins the running workflow and is recorded: when Temporal
// takes the request but does not answer in time (503), and when the entry's append fails after Temporal took
// it (500, logged with the request ID). The workflows themselves are not changed to write the entry, because
// their inputs would then have to carry the actor.

// audit returns the entry of a change the request makes, its actor the request's token.
func (s *Server) audit(c *gin.Context, action aicc.AuditAction, target aicc.AuditTarget, channelID string,
	details map[string]string,
) *aicc.AuditEntry {
	p := principalOf(c)
	return &aicc.AuditEntry{
		TenantID: p.TenantID, ChannelID: channelID, Actor: aicc.TokenActor(p), Action: action, Target: target,
		Details: details, RequestID: c.GetString(requestIDKey), At: s.now(),
	}
}

// audited makes change, one store call made with the ctx it is given, and appends e in the same transaction. A
// nil change records a request that a workflow carries out, once Temporal has accepted it.
func (s *Server) audited(c *gin.Context, e *aicc.AuditEntry, change func(ctx context.Context) error) error {
	return s.Store.Audited(c.Request.Context(), e, change)
}

// changedFields names the fields of the channel's name, basic and robot configuration that differ between
// before and after, as JSON paths one level into each section ("basic.workTime", "name"), sorted. Only names:
// never a value.
func changedFields(before, after *aicc.Channel) string {
	var out []string
	if before.Name != after.Name {
		out = append(out, "name")
	}
	out = append(out, changedKeys("basic", before.Basic, after.Basic)...)
	out = append(out, changedKeys("robot", before.Robot, after.Robot)...)
	slices.Sort(out)
	return strings.Join(out, ",")
}

// changedKeys returns prefix.key for every top-level JSON key of a and b whose value differs.
func changedKeys(prefix string, a, b any) []string {
	ma, mb := jsonObject(a), jsonObject(b)
	var out []string
	for k, va := range ma {
		if vb, ok := mb[k]; !ok || !bytes.Equal(va, vb) {
			out = append(out, prefix+"."+k)
		}
	}
	for k := range mb {
		if _, ok := ma[k]; !ok {
			out = append(out, prefix+"."+k)
		}
	}
	return out
}

func jsonObject(v any) map[string]json.RawMessage {
	b, _ := json.Marshal(v)
	m := map[string]json.RawMessage{}
	_ = json.Unmarshal(b, &m)
	return m
}
