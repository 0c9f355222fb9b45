import NIOConcurrencyHelpers

/// The methods each route template answers, so a known path asked with another method gets
/// `405 Method Not Allowed` and an `Allow` header instead of a 404. Filled once, after the routes are added.
final class RouteTable: Sendable {
    private let entries = NIOLockedValueBox<[(segments: [Substring], methods: [String])]>([])

    func load(_ routes: [(path: String, method: String)]) {
        var byPath: [String: [String]] = [:]
        for route in routes { byPath[route.path, default: []].append(route.method) }
        entries.withLockedValue { entries in
            entries = byPath.map { (Self.segments($0.key), $0.value.sorted()) }
        }
    }

    /// The methods allowed on `path`, empty if no route template matches it.
    func allowedMethods(for path: String) -> [String] {
        let requested = Self.segments(path)
        return entries.withLockedValue { entries in
            for entry in entries where entry.segments.count == requested.count {
                let matches = zip(entry.segments, requested).allSatisfy { template, actual in
                    template == actual || (template.hasPrefix("{") && template.hasSuffix("}"))
                }
                if matches { return entry.methods }
            }
            return []
        }
    }

    private static func segments(_ path: String) -> [Substring] {
        path.split(separator: "?", maxSplits: 1).first.map { $0.split(separator: "/") } ?? []
    }
}
