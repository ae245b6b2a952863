package pusherproto

import "testing"

// pusher-js 8.6.0's getCloseAction (reference §3.2), code by code.
func TestPusherJSAction(t *testing.T) {
	for code, want := range map[int]Action{
		1000: ActionNone, 1001: ActionNone, 1002: ActionBackoff, 1004: ActionBackoff, 1005: ActionNone, 1006: ActionNone, 3999: ActionNone,
		int(CodeTLSOnly): ActionTLSOnly, int(CodeAppUnknown): ActionRefused, int(CodeAppDisabled): ActionRefused,
		int(CodeOverConnectionQuota): ActionRefused, int(CodePathNotFound): ActionRefused, int(CodeInvalidVersion): ActionRefused,
		int(CodeUnsupportedProtocol): ActionRefused, int(CodeNoProtocol): ActionRefused, int(CodeUnauthorized): ActionRefused, 4099: ActionRefused,
		int(CodeOverCapacity): ActionBackoff, 4199: ActionBackoff,
		int(CodeReconnect): ActionRetry, int(CodePongNotReceived): ActionRetry, int(CodeInactive): ActionRetry, 4299: ActionRetry,
		int(CodeClientEventRejected): ActionRefused, int(CodeWatchlistTooLong): ActionRefused, 4999: ActionRefused,
	} {
		if got := PusherJSAction(code); got != want {
			t.Errorf("PusherJSAction(%d) = %s, want %s", code, got, want)
		}
	}
}
