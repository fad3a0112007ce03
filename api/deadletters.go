package api

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/aiccfb/aicc"
)

// deadLetterJSON is a webhook event the dispatcher gave up delivering: where it came from, what it is, how its
// deliveries failed. Never its text, its payload or the customer's PSID: the list is for finding and retrying
// stuck events, not for reading what customers wrote.
type deadLetterJSON struct {
	ID             int64          `json:"id"`
	ChannelID      string         `json:"channelId"`
	PageID         string         `json:"pageId"`
	ConversationID string         `json:"conversationId"`
	Kind           aicc.EventKind `json:"kind"`
	MID            string         `json:"mid,omitempty"`
	Timestamp      time.Time      `json:"timestamp"`
	ReceivedAt     time.Time      `json:"receivedAt"`
	Attempts       int            `json:"attempts"`
	LastError      string         `json:"lastError"`
	// DeadAt is absent once a retry made the event pending again.
	DeadAt *time.Time `json:"deadAt,omitempty"`
}

func toDeadLetterJSON(e aicc.InboxEvent) deadLetterJSON {
	return deadLetterJSON{
		ID: e.ID, ChannelID: e.ChannelID, PageID: e.PageID, ConversationID: aicc.ConversationID(e.ChannelID, e.PageID, e.PSID),
		Kind: e.Kind, MID: e.MID, Timestamp: time.UnixMilli(e.Timestamp).UTC(), ReceivedAt: e.ReceivedAt.UTC(),
		Attempts: e.Attempts, LastError: e.LastError, DeadAt: optTime(e.DeadAt),
	}
}

// listDeadLetters lists the tenant's dead letters, the latest first.
func (s *Server) listDeadLetters(c *gin.Context) error {
	opt, err := listOptions(c)
	if err != nil {
		return err
	}
	items, next, err := s.Store.DeadLetters(c.Request.Context(), principalOf(c).TenantID, opt)
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, listOf(items, next, toDeadLetterJSON))
	return nil
}

// retryDeadLetter makes a dead letter pending again, with its attempts reset, and answers 202 with it: the
// dispatcher delivers it later, in its conversation's order. The retry and its audit entry commit together.
// An ID that is no dead letter of the tenant (unknown, another tenant's, pending or delivered) is NOT_FOUND.
func (s *Server) retryDeadLetter(c *gin.Context) error {
	id, err := strconv.ParseInt(c.Param("eventID"), 10, 64)
	if err != nil || id < 1 {
		return invalid("eventID", "must be a positive integer, the id of a dead letter")
	}
	var retried *aicc.InboxEvent
	e := s.audit(c, aicc.AuditDeadLetterRetry, aicc.AuditTarget{Type: aicc.TargetDeadLetter, ID: strconv.FormatInt(id, 10)}, "", nil)
	err = s.audited(c, e, func(ctx context.Context) error {
		var err error
		if retried, err = s.Store.RetryDeadLetter(ctx, principalOf(c).TenantID, id); err != nil {
			return err
		}
		// Known only now: the entry is listed with the channel's, and names the conversation (never a PSID).
		e.ChannelID = retried.ChannelID
		e.Details = map[string]string{
			aicc.DetailConversationID: aicc.ConversationID(retried.ChannelID, retried.PageID, retried.PSID),
		}
		return nil
	})
	if err != nil {
		return err
	}
	c.JSON(http.StatusAccepted, toDeadLetterJSON(*retried))
	return nil
}
