import Hummingbird
import Prometheus

/// Counts requests and records their latency in a Prometheus registry owned by the application (no
/// global metrics system, so every test gets its own). Routes are labelled by their template
/// (`/v1/lines/{msisdn}`), never by the concrete path, to keep label cardinality bounded.
struct HTTPMetricsMiddleware<Context: RequestContext>: RouterMiddleware {
    let registry: PrometheusCollectorRegistry

    static var latencyBuckets: [Duration] {
        [.microseconds(250), .microseconds(500), .milliseconds(1), .milliseconds(2), .milliseconds(5), .milliseconds(10),
         .milliseconds(25), .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1), .seconds(5)]
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let start = ContinuousClock.now
        let response = try await next(request, context)
        let route = context.endpointPath ?? "unmatched"
        let method = request.method.rawValue
        registry.makeCounter(
            descriptor: .init(metricName: "http_requests", unitName: "total", helpText: "HTTP requests by method, route template and status."),
            labels: [("method", method), ("route", route), ("status", String(response.status.code))]
        ).increment()
        registry.makeDurationHistogram(
            descriptor: .init(metricName: "http_request_duration", unitName: "seconds", helpText: "Time to produce the response head."),
            labels: [("method", method), ("route", route)],
            buckets: Self.latencyBuckets
        ).record(ContinuousClock.now - start)
        return response
    }
}
