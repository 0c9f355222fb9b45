import Foundation
import Mustache
import RechargeCore

/// The portal's strings, one JSON file per language (`Resources/portal/locales/<language>.json`, flat
/// `key → text`). Texts may hold `{name}` placeholders, filled by ``text(_:_:_:)``. Templates never hold a
/// user-facing word of their own: they show `{{{t.key}}}` or values prepared here.
struct PortalStrings: Sendable {
    let tables: [NotificationLanguage: [String: String]]
    /// The same texts HTML-escaped once, at load: templates show them with `{{{t.key}}}`, so a page does not escape
    /// every static word again (swift-mustache escapes character by character; it was a seventh of a page's time).
    let escapedTables: [NotificationLanguage: [String: String]]

    init(tables: [NotificationLanguage: [String: String]]) {
        self.tables = tables
        self.escapedTables = tables.mapValues { $0.mapValues(Self.escape) }
    }

    /// Loads `<language>.json` for every ``NotificationLanguage`` from `directory`.
    init(directory: URL) throws {
        var tables: [NotificationLanguage: [String: String]] = [:]
        for language in NotificationLanguage.allCases {
            let file = directory.appendingPathComponent("\(language.rawValue).json")
            let data = try Data(contentsOf: file)
            tables[language] = try JSONDecoder().decode([String: String].self, from: data)
        }
        self.init(tables: tables)
    }

    /// `text` HTML-escaped, as Mustache's `{{ }}` would show it.
    static func escape(_ text: String) -> String {
        var result = ""
        for character in text {
            switch character {
            case "&": result += "&amp;"
            case "<": result += "&lt;"
            case ">": result += "&gt;"
            case "\"": result += "&quot;"
            case "'": result += "&#39;"
            default: result.append(character)
            }
        }
        return result
    }

    func table(_ language: NotificationLanguage) -> [String: String] {
        tables[language] ?? [:]
    }

    func escapedTable(_ language: NotificationLanguage) -> [String: String] {
        escapedTables[language] ?? [:]
    }

    /// The text for `key` with `{name}` placeholders replaced; English when the language lacks it (the locale test
    /// keeps both files complete), the key itself as a last resort so a gap is visible, never a crash.
    func text(_ key: String, _ language: NotificationLanguage, _ values: [String: String] = [:]) -> String {
        let text = tables[language]?[key] ?? tables[.english]?[key] ?? key
        guard !values.isEmpty, text.utf8.contains(UInt8(ascii: "{")) else { return text }
        // One pass over the text (Foundation's replacingOccurrences per value was 4 % of a dashboard).
        var result = ""
        result.reserveCapacity(text.utf8.count + 32)
        var rest = Substring(text)
        while let open = rest.firstIndex(of: "{") {
            result += rest[..<open]
            guard let close = rest[open...].firstIndex(of: "}") else {
                rest = rest[open...]
                break
            }
            let name = String(rest[rest.index(after: open)..<close])
            if let value = values[name] { result += value } else { result += rest[open...close] }
            rest = rest[rest.index(after: close)...]
        }
        result += rest
        return result
    }
}

/// The portal's Mustache templates (`Resources/portal/templates/*.mustache`): pages, and the `head`/`foot`
/// partials every page includes.
struct PortalTemplates: Sendable {
    let library: MustacheLibrary
    let names: Set<String>
    /// The stylesheet and the one script, served at `/static/portal.css` and `/static/portal.js`.
    let stylesheet: String
    let script: String

    init(directory: URL, stylesheet: URL, script: URL) throws {
        var templates: [String: MustacheTemplate] = [:]
        let files = try FileManager.default.contentsOfDirectory(atPath: directory.path)
        for file in files where file.hasSuffix(".mustache") {
            let text = try String(contentsOf: directory.appendingPathComponent(file), encoding: .utf8)
            templates[String(file.dropLast(".mustache".count))] = try MustacheTemplate(string: text)
        }
        self.library = MustacheLibrary(templates: templates)
        self.names = Set(templates.keys)
        self.stylesheet = try String(contentsOf: stylesheet, encoding: .utf8)
        self.script = try String(contentsOf: script, encoding: .utf8)
    }

    /// `name` rendered with `view`: a typed view model (``PortalPage``), read by the template through its fields.
    func render<View: Sendable>(_ name: String, _ view: View) -> String {
        library.render(view, withTemplate: name) ?? ""
    }
}

/// Everything the portal loads from the bundle once, at start.
struct PortalResources: Sendable {
    let strings: PortalStrings
    let templates: PortalTemplates
    /// The home-screen icons (``WebAppManifest``), served under `/static/`.
    let icons: PortalIcons

    /// The resource folder inside the RechargeServer bundle.
    static var directory: URL? { Bundle.module.url(forResource: "portal", withExtension: nil) }

    static func bundled() throws -> PortalResources {
        guard let root = directory else { throw RechargeError.invalidRequest("the portal resources are missing from the bundle") }
        return PortalResources(
            strings: try PortalStrings(directory: root.appendingPathComponent("locales")),
            templates: try PortalTemplates(directory: root.appendingPathComponent("templates"),
                                           stylesheet: root.appendingPathComponent("static/portal.css"),
                                           script: root.appendingPathComponent("static/portal.js")),
            icons: try PortalIcons(directory: root.appendingPathComponent("static")))
    }
}
