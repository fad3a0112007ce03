package api

import (
	"context"
	"log/slog"
	"net/http"
	"unicode/utf8"

	"github.com/gin-gonic/gin"
	"go.temporal.io/sdk/client"

	"github.com/aiccfb/aicc"
	"github.com/aiccfb/aicc/workflows"
)

// The agents' requests on a conversation: each goes to the conversation's workflow as an Update, which decides
// against the conversation's state and the channel's settings, and answers once the read model is written.

// maxAgentIDLen and maxRequestIDLen bound the agent's and the request's IDs.
const (
	maxAgentIDLen   = 128
	maxRequestIDLen = 128
)

// agentMessageJSON is an agent's reply as sent.
type agentMessageJSON struct {
	MessageID     string             `json:"messageId"`
	MessagingType aicc.MessagingType `json:"messagingType"`
	Tag           string             `json:"tag,omitempty"`
	Conversation  conversationJSON   `json:"conversation"`
}

// assignConversation assigns the conversation to the agent, who serves the customer from then on.
func (s *Server) assignConversation(c *gin.Context) error {
	return s.agentRequest(c, "assigned", workflows.AssignConversation)
}

// declineConversation declines the offer of the conversation to the customer's last agent, who alone may: it
// goes to the skill queue at once.
func (s *Server) declineConversation(c *gin.Context) error {
	return s.agentRequest(c, "declined", workflows.DeclineConversation)
}

// closeConversation ends the conversation; the customer's next message opens a new session.
func (s *Server) closeConversation(c *gin.Context) error {
	return s.agentRequest(c, "closed", workflows.CloseConversation)
}

// agentRequest answers an agent's request whose body names the agent alone, with what act answers.
func (s *Server) agentRequest(c *gin.Context, what string,
	act func(context.Context, client.Client, string, aicc.ConversationKey, string) (aicc.Conversation, error)) error {
	var req struct {
		AgentID string `json:"agentId"`
	}
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	fe := aicc.FieldErrors{}
	checkAgentID(fe, req.AgentID)
	return s.conversationUpdate(c, fe, what, func(ctx context.Context, tenant string, key aicc.ConversationKey) (any, error) {
		cv, err := act(ctx, s.Temporal, tenant, key, req.AgentID)
		return toConversationJSON(&cv), err
	})
}

// sendAgentMessage sends the assigned agent's reply to the customer: as RESPONSE within 24 hours of the
// customer's last message, with the HUMAN_AGENT tag within 7 days, else OUTSIDE_MESSAGING_WINDOW. A requestId
// makes the request idempotent: sent again, the same reply is not sent twice.
func (s *Server) sendAgentMessage(c *gin.Context) error {
	var req struct {
		AgentID   string `json:"agentId"`
		RequestID string `json:"requestId"`
		Text      string `json:"text"`
	}
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	fe := aicc.FieldErrors{}
	checkAgentID(fe, req.AgentID)
	if n := utf8.RuneCountInString(req.Text); n == 0 || n > aicc.MaxMessageText || !utf8.ValidString(req.Text) {
		fe.Add("text", "must be valid UTF-8 of 1 to %d characters", aicc.MaxMessageText)
	}
	if len(req.RequestID) > maxRequestIDLen {
		fe.Add("requestId", "must have at most %d characters", maxRequestIDLen)
	}
	if req.RequestID == "" {
		req.RequestID = aicc.NewID("req")
	}
	return s.conversationUpdate(c, fe, "agent message sent", func(ctx context.Context, tenant string, key aicc.ConversationKey) (any, error) {
		r, err := workflows.SendAgentMessage(ctx, s.Temporal, tenant, key,
			workflows.AgentMessageRequest{AgentID: req.AgentID, RequestID: req.RequestID, Text: req.Text})
		return agentMessageJSON{
			MessageID: r.MessageID, MessagingType: r.Type, Tag: r.Tag, Conversation: toConversationJSON(&r.Conversation),
		}, err
	})
}

// transferConversation moves the conversation to one of the channel's session-transfer target queues.
func (s *Server) transferConversation(c *gin.Context) error {
	var req struct {
		AgentID string `json:"agentId"`
		QueueID string `json:"queueId"`
	}
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	fe := aicc.FieldErrors{}
	checkAgentID(fe, req.AgentID)
	if req.QueueID == "" {
		fe.Add("queueId", "is required")
	}
	return s.conversationUpdate(c, fe, "transferred", func(ctx context.Context, tenant string, key aicc.ConversationKey) (any, error) {
		cv, err := workflows.TransferConversation(ctx, s.Temporal, tenant, key, workflows.TransferRequest{AgentID: req.AgentID, QueueID: req.QueueID})
		return toConversationJSON(&cv), err
	})
}

func checkAgentID(fe aicc.FieldErrors, id string) {
	if id == "" || len(id) > maxAgentIDLen {
		fe.Add("agentId", "must have 1 to %d characters", maxAgentIDLen)
	}
}

// conversationUpdate answers an agent's request on the caller's conversation: the field errors fe, else the
// result of update, which sends the Update within the API's wait for workflows.
func (s *Server) conversationUpdate(c *gin.Context, fe aicc.FieldErrors, what string,
	update func(ctx context.Context, tenant string, key aicc.ConversationKey) (any, error)) error {
	if err := fe.Err(); err != nil {
		return err
	}
	tenant := principalOf(c).TenantID
	cv, err := s.Store.GetConversation(c.Request.Context(), tenant, c.Param("conversationID"))
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(c.Request.Context(), s.workflowWait())
	defer cancel()
	out, err := update(ctx, tenant, cv.Key())
	if err = s.temporalError(c, err); err != nil {
		return err
	}
	s.log(c).Info("conversation "+what, slog.String("conversation_id", cv.ID))
	c.JSON(http.StatusOK, out)
	return nil
}
