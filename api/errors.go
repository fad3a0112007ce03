package api

import (
	"errors"
	"log/slog"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/aiccfb/aicc"
)

// codeMethodNotAllowed answers a known path with the wrong method. It is an HTTP-level code, so it lives here
// rather than among the domain's codes.
const codeMethodNotAllowed = "METHOD_NOT_ALLOWED"

// statuses is the one table from error code to HTTP status. A code missing here is answered as INTERNAL.
var statuses = map[string]int{
	aicc.EINVALID:            http.StatusBadRequest,
	aicc.EUNAUTH:             http.StatusUnauthorized,
	aicc.EFORBIDDEN:          http.StatusForbidden,
	aicc.ENOTFOUND:           http.StatusNotFound,
	codeMethodNotAllowed:     http.StatusMethodNotAllowed,
	aicc.ECONFLICT:           http.StatusConflict,
	aicc.ECHANNELNAMETAKEN:   http.StatusConflict,
	aicc.EAPPCONNECTED:       http.StatusConflict,
	aicc.EPAGECONNECTED:      http.StatusConflict,
	aicc.ENOTVERIFIED:        http.StatusConflict,
	aicc.EONBOARDINGSTARTED:  http.StatusConflict,
	aicc.EONBOARDINGFINISHED: http.StatusConflict,
	aicc.EINUSE:              http.StatusConflict,
	aicc.ENOSUBSCRIBEDPAGE:   http.StatusConflict,
	aicc.ECHANNELDELETING:    http.StatusConflict,
	aicc.EPAGECONNECTING:     http.StatusConflict,
	aicc.EPAGEDISCONNECTING:  http.StatusConflict,
	aicc.ENOPREVIOUSSECRET:   http.StatusConflict,
	aicc.EEXPORTTOOLARGE:     http.StatusBadRequest,
	aicc.EEXPORTNOTREADY:     http.StatusConflict,
	aicc.EEXPORTEXPIRED:      http.StatusGone,
	aicc.ETOOLARGE:           http.StatusRequestEntityTooLarge,
	aicc.EUNAVAILABLE:        http.StatusServiceUnavailable,
	aicc.EINTERNAL:           http.StatusInternalServerError,
	// The sysadmin has to upload a (new) Facebook authentication certificate before this can succeed.
	aicc.ECERTMISSING: http.StatusConflict,
	aicc.ECERTEXPIRED: http.StatusConflict,
	// The conversation's state, not the request, stands in the way, as with the other 409s: the request is
	// right, and only a new message from the customer reopens the window.
	aicc.EOUTSIDEWINDOW: http.StatusConflict,
	// The conversation's state or the channel's settings stand in the way of an agent's request.
	aicc.ECONVERSATIONENDED:  http.StatusConflict,
	aicc.ENOTASSIGNED:        http.StatusConflict,
	aicc.ENOTOFFERED:         http.StatusConflict,
	aicc.ETRANSFERNOTALLOWED: http.StatusConflict,
	// Meta refused a call: the administrator's input (token, permissions, Page) has to change.
	aicc.EMETATOKENINVALID:    http.StatusUnprocessableEntity,
	aicc.EMETAPERMISSION:      http.StatusUnprocessableEntity,
	aicc.EMETAINVALIDPARAM:    http.StatusUnprocessableEntity,
	aicc.EMETAUSERUNAVAILABLE: http.StatusUnprocessableEntity,
	aicc.EMETAAPPINVALID:      http.StatusUnprocessableEntity,
	// Meta is limiting or failing: the same request may succeed later.
	aicc.EMETARATELIMITED: http.StatusTooManyRequests,
	aicc.EMETAUNAVAILABLE: http.StatusBadGateway,
	aicc.EMETAERROR:       http.StatusBadGateway,
	// The robot, another upstream, has no answer; the channel's robot assistant is off.
	aicc.EROBOTUNAVAILABLE:  http.StatusBadGateway,
	aicc.EASSISTANTDISABLED: http.StatusConflict,
	// Meta did not say whether it took the message, and it is not sent twice: an upstream outcome, as above.
	aicc.EAMBIGUOUSSEND: http.StatusBadGateway,
}

type errorBody struct {
	Error errorJSON `json:"error"`
}

type errorJSON struct {
	Code    string            `json:"code"`
	Message string            `json:"message"`
	Fields  map[string]string `json:"fields,omitempty"`
}

// writeError is the one writer of error responses. A domain error is answered with its code, message and
// fields; anything else is logged with the request ID and answered INTERNAL without detail, because internal
// messages may name tables, hosts or worse.
func (s *Server) writeError(c *gin.Context, err error) {
	var e *aicc.Error
	status, ok := 0, errors.As(err, &e)
	if ok {
		status, ok = statuses[e.Code]
	}
	if !ok || status == http.StatusInternalServerError {
		s.log(c).LogAttrs(c.Request.Context(), slog.LevelError, "internal error", slog.String("error", err.Error()))
		e, status = &aicc.Error{Code: aicc.EINTERNAL, Message: "Internal error."}, http.StatusInternalServerError
	}
	if status == http.StatusUnauthorized {
		c.Header("WWW-Authenticate", "Bearer")
	}
	c.AbortWithStatusJSON(status, errorBody{Error: errorJSON{Code: e.Code, Message: e.Message, Fields: e.Fields}})
}

// invalid returns an EINVALID error for one field.
func invalid(field, msg string) error {
	return &aicc.Error{Code: aicc.EINVALID, Message: "The request has invalid fields.", Fields: map[string]string{field: msg}}
}
