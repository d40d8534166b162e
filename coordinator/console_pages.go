package coordinator

import (
	"net/http"
	"net/url"
	"time"
)

// The console's detail pages: each has a JSON endpoint (read role, like
// every /ui/api read) and the same data on the event stream, chosen by
// the stream's query, so a page loads from one and stays live on the
// other without two code paths.

// consolePage is the data of one detail page: name is the event it is
// sent as ("" for no page), data reads it now (ok false: no such object).
type consolePage struct {
	name string
	data func(now time.Time) (any, bool)
}

// consolePageOf picks the page a query names: job=ID (tasks=PAGE,
// filter=F), model=NAME (version=N), run=ID or schedule=NAME (page=N).
func (s *Server) consolePageOf(q url.Values) consolePage {
	switch {
	case q.Get("job") != "":
		id, tasks, filter := q.Get("job"), atoiOr(q.Get("tasks"), 1), q.Get("filter")
		return consolePage{"job", func(now time.Time) (any, bool) { return s.consoleJobDetail(id, tasks, filter, now) }}
	case q.Get("model") != "":
		name, version := q.Get("model"), int32(atoiOr(q.Get("version"), 0))
		return consolePage{"model", func(time.Time) (any, bool) { return s.consoleModel(name, version) }}
	case q.Get("run") != "":
		id := q.Get("run")
		return consolePage{"run", func(time.Time) (any, bool) { return s.consoleRunPage(id) }}
	case q.Get("schedule") != "":
		name, page := q.Get("schedule"), atoiOr(q.Get("page"), 1)
		return consolePage{"schedule", func(now time.Time) (any, bool) { return s.consoleSchedulePage(name, page, now) }}
	}
	return consolePage{}
}

// consolePageRoutes registers the detail pages' JSON: the path's last
// segment becomes the query parameter the event stream takes.
func (s *Server) consolePageRoutes(mux *http.ServeMux) {
	routes := map[string]string{
		"GET /ui/api/jobs/{key}":      "job",
		"GET /ui/api/models/{key}":    "model",
		"GET /ui/api/runs/{key...}":   "run", // an ad-hoc run's ID is its caller's request ID: it may hold '/'
		"GET /ui/api/schedules/{key}": "schedule",
	}
	for pattern, param := range routes {
		mux.Handle(pattern, s.consoleAuth(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			key := r.PathValue("key")
			q := r.URL.Query()
			for _, other := range routes {
				q.Del(other) // the path names the page, whatever the query says
			}
			q.Set(param, key)
			var v any
			ok := key != ""
			if ok {
				v, ok = s.consolePageOf(q).data(time.Now())
			}
			if !ok {
				http.Error(w, "no such "+param, http.StatusNotFound)
				return
			}
			writeConsoleJSON(w, v)
		}), true))
	}
}
