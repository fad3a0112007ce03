package api

import (
	"log/slog"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/aiccfb/aicc"
)

// suggestionsJSON are the robot assistant's suggested replies to the customer's last message.
type suggestionsJSON struct {
	Suggestions []string `json:"suggestions"`
}

// getSuggestions asks the channel's robot assistant (seed Table 3, "Access Robot Assistant") for replies an
// agent could send to the customer's last message. A channel whose assistant is off is ROBOT_ASSISTANT_DISABLED;
// a conversation without a customer message has no suggestions; a robot that is not configured or does not
// answer is ROBOT_UNAVAILABLE.
func (s *Server) getSuggestions(c *gin.Context) error {
	ctx, tenant := c.Request.Context(), principalOf(c).TenantID
	cv, err := s.Store.GetConversation(ctx, tenant, c.Param("conversationID"))
	if err != nil {
		return err
	}
	ch, err := s.Store.GetChannel(ctx, tenant, cv.ChannelID)
	if err != nil {
		return err
	}
	assistant := ch.Robot.Assistant
	if !assistant.Enabled {
		return aicc.Errorf(aicc.EASSISTANTDISABLED, "The channel's robot assistant is disabled.")
	}
	if strings.TrimSpace(cv.LastCustomerMessage) == "" {
		c.JSON(http.StatusOK, suggestionsJSON{Suggestions: []string{}})
		return nil
	}
	if s.Robots == nil {
		return aicc.Errorf(aicc.EROBOTUNAVAILABLE, "No robot is configured.")
	}
	robot, err := s.Robots.Robot(assistant.AccessCode)
	if aicc.ErrorCode(err) == aicc.ENOTFOUND {
		// Not the conversation's NOT_FOUND: the channel names a robot this deployment does not have.
		return aicc.Errorf(aicc.EROBOTUNAVAILABLE, "No robot has the access code %q.", assistant.AccessCode)
	} else if err != nil {
		return err
	}
	suggestions, err := robot.Suggest(ctx, aicc.RobotQuestion{
		TenantID: tenant, ChannelID: cv.ChannelID, ConversationID: cv.ID, AccessCode: assistant.AccessCode,
		PSID: cv.PSID, Text: cv.LastCustomerMessage,
	})
	if err != nil {
		// The error's text says why (status, timeout) for operators; the caller gets the safe message.
		s.log(c).LogAttrs(ctx, slog.LevelWarn, "robot assistant did not answer",
			slog.String("access_code", assistant.AccessCode), slog.String("error", err.Error()))
		if aicc.ErrorCode(err) != aicc.EROBOTUNAVAILABLE {
			err = aicc.Errorf(aicc.EROBOTUNAVAILABLE, "The robot of access code %q did not answer.", assistant.AccessCode)
		}
		return err
	}
	if suggestions == nil {
		suggestions = []string{}
	}
	c.JSON(http.StatusOK, suggestionsJSON{Suggestions: suggestions})
	return nil
}
