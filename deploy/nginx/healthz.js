// GET /healthz at the gateway: 200 only when every service answers its /readyz with 200, and the same body
// as the dev gateway (`learncity up`): {"status": "ok" | "degraded", "services": {"orgs": true, ...}}.
// The services come from $learncity_services, which routes.conf sets from shared/topology.py.

async function healthz(r) {
    const services = r.variables.learncity_services.split(' ');
    const ready = await Promise.all(services.map(function (service) {
        return r.subrequest('/_ready/' + service).then(
            function (reply) { return reply.status === 200; },
            function () { return false; });
    }));
    const byService = {};
    services.forEach(function (service, index) { byService[service] = ready[index]; });
    const healthy = ready.every(function (ok) { return ok; });
    r.headersOut['Content-Type'] = 'application/json';
    r.headersOut['Cache-Control'] = 'no-store';
    r.return(healthy ? 200 : 503, JSON.stringify({status: healthy ? 'ok' : 'degraded', services: byService}));
}

export default {healthz};
