#include "apps/node_http.hpp"

#include <caf/event_based_actor.hpp>
#include <nlohmann/json.hpp>

#include "core/error.hpp"

namespace ab::apps {

namespace {

using json = nlohmann::json;

net::http_response json_response(int status, const json& body) {
  net::http_response r;
  r.status = status;
  r.body = body.dump();
  return r;
}

net::http_response error_response(int status, const std::string& code, const std::string& what) {
  return json_response(status, {{"error", {{"code", code}, {"message", what}}}});
}

}  // namespace

caf::expected<std::unique_ptr<net::http_server>> start_node_http(
    caf::actor_system& sys, const config::node_config& cfg, actors::supervisor_actor supervisor,
    std::shared_ptr<storage::store> store) {
  auto hp = config::split_host_port(cfg.listen);
  if (!hp) return hp.error();
  net::server_options opts;
  opts.host = hp->first;
  opts.port = hp->second;
  auto node_id = cfg.node_id;
  auto site = cfg.site;
  return net::http_server::start(
      opts, [&sys, supervisor, node_id, site](net::http_request&& req, net::responder respond) {
        auto path = req.target.substr(0, req.target.find('?'));
        if (req.method == "GET" && path == "/healthz") {
          respond(json_response(200, {{"status", "ok"}}));
          return;
        }
        if (req.method == "GET" && path == "/v1/node") {
          // Ask the supervisor without blocking the I/O thread: a short-lived actor relays
          // the answer to the responder.
          sys.spawn([supervisor, respond, node_id, site](caf::event_based_actor* self) {
            self->request(supervisor, std::chrono::seconds(5), actors::status_atom::value)
                .then(
                    [=](const actors::pool_status& st) {
                      respond(json_response(200, {{"node_id", node_id},
                                                  {"site", site},
                                                  {"cluster", st.cluster},
                                                  {"workers", st.workers},
                                                  {"restarts", st.restarts},
                                                  {"given_up", st.given_up},
                                                  {"draining", st.draining}}));
                    },
                    [=](const caf::error& err) {
                      respond(error_response(503, "unavailable", message_of(err)));
                    });
          });
          return;
        }
        respond(error_response(404, "not_found", "no route for " + req.method + " " + path));
      });
}

}  // namespace ab::apps
