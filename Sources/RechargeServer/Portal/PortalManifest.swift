import Foundation
import RechargeCore

/// The web app manifest (`/manifest.webmanifest`): what a phone needs to add the portal to its home screen and open
/// it like an app (its own window, no browser bar). The names come from the locale files (`app_name`,
/// `app_short_name`, `app_description`), so a subscriber who uses the portal in Chinese gets a Chinese icon label;
/// the page links the manifest with its own language (`?lang=`), so the manifest a browser installs matches the page
/// it was installed from. No service worker: the portal needs the network for every page anyway (balances, payments).
struct WebAppManifest: Encodable, Sendable, Equatable {
    struct Icon: Encodable, Sendable, Equatable {
        let src: String
        let sizes: String
        let type: String
        let purpose: String
    }

    let name: String
    let short_name: String
    let description: String
    let lang: String
    let dir: String
    let id: String
    let start_url: String
    let scope: String
    let display: String
    let theme_color: String
    let background_color: String
    let icons: [Icon]

    /// The header's blue: the colour of the status bar in the installed app and of `<meta name="theme-color">`.
    static let themeColor = "#0b3d91"
    /// The page background, shown behind the splash icon while the first page loads.
    static let backgroundColor = "#f4f6f8"

    /// The icons drawn by `scripts/portal-icons` (the PNG sizes Android and desktop browsers ask for, and the SVG for
    /// any other size). The bolt stays inside the central 80 %, so launchers may also crop them to a circle (`maskable`).
    static let icons = [
        Icon(src: "/static/icon-192.png", sizes: "192x192", type: "image/png", purpose: "any maskable"),
        Icon(src: "/static/icon-512.png", sizes: "512x512", type: "image/png", purpose: "any maskable"),
        Icon(src: "/static/icon.svg", sizes: "any", type: "image/svg+xml", purpose: "any"),
    ]

    static func make(_ language: NotificationLanguage, strings: PortalStrings) -> WebAppManifest {
        WebAppManifest(name: strings.text("app_name", language), short_name: strings.text("app_short_name", language),
                       description: strings.text("app_description", language), lang: language.rawValue, dir: "ltr",
                       id: "/", start_url: "/", scope: "/", display: "standalone", theme_color: themeColor,
                       background_color: backgroundColor, icons: icons)
    }

    /// The manifest's bytes: sorted keys, so one language always gives the same bytes (cacheable, comparable).
    func encoded() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return try encoder.encode(self)
    }
}

/// The icons the manifest and `head.mustache` name, read from the bundle once at start (`Resources/portal/static`).
struct PortalIcons: Sendable {
    /// File name → (bytes, content type).
    let files: [String: (data: Data, contentType: String)]

    static let names = ["icon.svg": "image/svg+xml", "icon-180.png": "image/png", "icon-192.png": "image/png", "icon-512.png": "image/png"]

    init(directory: URL) throws {
        var files: [String: (data: Data, contentType: String)] = [:]
        for (name, type) in Self.names {
            files[name] = (try Data(contentsOf: directory.appendingPathComponent(name)), type)
        }
        self.files = files
    }
}
