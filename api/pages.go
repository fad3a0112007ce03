package api

import (
	"log/slog"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/aiccfb/aicc"
)

// maxPageNameLen bounds the display name an administrator gives a Page.
const maxPageNameLen = 100

type pageJSON struct {
	PageID      string     `json:"pageId"`
	ChannelID   string     `json:"channelId"`
	Name        string     `json:"name"`
	TokenSecret secretJSON `json:"tokenSecret"`
	CreatedAt   time.Time  `json:"createdAt"`
}

func toPageJSON(p *aicc.Page) pageJSON {
	return pageJSON{
		PageID: p.PageID, ChannelID: p.ChannelID, Name: p.Name, TokenSecret: toSecretJSON(p.Token),
		CreatedAt: p.CreatedAt.UTC(),
	}
}

// addPage connects a Page to the channel; its access token is sealed at once and never shown again.
func (s *Server) addPage(c *gin.Context) error {
	var req struct {
		PageID      string `json:"pageId"`
		TokenSecret string `json:"tokenSecret"`
		Name        string `json:"name"`
	}
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	ctx, tenant, now := c.Request.Context(), principalOf(c).TenantID, s.now()
	ch, err := s.Store.GetChannel(ctx, tenant, c.Param("channelID"))
	if err != nil {
		return err
	}
	var nameErr error
	if len([]rune(req.Name)) > maxPageNameLen {
		nameErr = invalid("name", "must have at most 100 characters")
	}
	if err := aicc.JoinInvalid(aicc.ValidatePage(req.PageID, req.TokenSecret), nameErr); err != nil {
		return err
	}
	token := s.Keyring.Seal(req.TokenSecret, aicc.PageTokenOwner(req.PageID), now)
	p := &aicc.Page{
		PageID: req.PageID, ChannelID: ch.ID, TenantID: tenant, Name: req.Name, Token: token.Info(), CreatedAt: now,
	}
	if err := s.Store.AddPage(ctx, p, token); err != nil {
		return err
	}
	s.log(c).Info("page added", slog.String("channel_id", ch.ID), slog.String("page_id", p.PageID))
	c.JSON(http.StatusCreated, toPageJSON(p))
	return nil
}

func (s *Server) listPages(c *gin.Context) error {
	opt, err := listOptions(c)
	if err != nil {
		return err
	}
	// The store answers NOT_FOUND for a channel of another tenant, rather than an empty list.
	items, next, err := s.Store.ListPages(c.Request.Context(), principalOf(c).TenantID, c.Param("channelID"), opt)
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, listOf(items, next, toPageJSON))
	return nil
}

func (s *Server) removePage(c *gin.Context) error {
	channelID, pageID := c.Param("channelID"), c.Param("pageID")
	if err := s.Store.RemovePage(c.Request.Context(), principalOf(c).TenantID, channelID, pageID); err != nil {
		return err
	}
	s.log(c).Info("page removed", slog.String("channel_id", channelID), slog.String("page_id", pageID))
	c.Status(http.StatusNoContent)
	return nil
}
