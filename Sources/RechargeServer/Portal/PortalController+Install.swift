import Foundation
import Hummingbird
import NIOCore
import RechargeCore

/// The installable portal: the web app manifest and its icons, cached like the stylesheet (an hour, public). No
/// service worker is registered: the manifest alone lets a phone add the portal to its home screen.
extension PortalController {
    func addInstallRoutes(to router: Router<RechargeRequestContext>) {
        router.get("manifest.webmanifest", use: manifest)
        for name in PortalIcons.names.keys {
            router.get(RouterPath("static/\(name)"), use: { request, context in try await self.icon(name, request, context: context) })
        }
    }

    /// The manifest in the language the linking page asked for (`?lang=`, what `head.mustache` writes); without
    /// one (or an unknown one), the browser's `Accept-Language`, so the answer varies with that header only.
    @Sendable func manifest(_ request: Request, context: RechargeRequestContext) async throws -> Response {
        let asked = request.uri.queryParameters.get("lang").flatMap(NotificationLanguage.init(rawValue:))
        let language = asked ?? Self.language(acceptLanguage: request.headers[.acceptLanguage])
        let body = try WebAppManifest.make(language, strings: resources.strings).encoded()
        var headers: HTTPFields = [.contentType: "application/manifest+json; charset=utf-8", .cacheControl: "public, max-age=3600",
                                   .init("X-Content-Type-Options")!: "nosniff"]
        if asked == nil { headers[.vary] = "Accept-Language" }
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: body)))
    }

    @Sendable func icon(_ name: String, _ request: Request, context: RechargeRequestContext) async throws -> Response {
        guard let file = resources.icons.files[name] else { return Response(status: .notFound) }
        return Response(status: .ok, headers: [.contentType: file.contentType, .cacheControl: "public, max-age=3600",
                                               .init("X-Content-Type-Options")!: "nosniff"],
                        body: .init(byteBuffer: ByteBuffer(bytes: file.data)))
    }
}
