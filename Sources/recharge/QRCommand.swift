import ArgumentParser
import Foundation
import RechargeQR

/// `recharge qr`: QR codes from the command line, in batches for the decoder round trip (scripts/qr-roundtrip), and
/// the encoder's benchmark (bench/qr).
struct QRCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "qr", abstract: "Make QR codes (SVG, PNG or text), in batches, or benchmark the encoder.",
        subcommands: [Encode.self, Batch.self, Bench.self], defaultSubcommand: Encode.self)

    static func level(_ text: String) throws -> QRErrorCorrection {
        guard let level = QRErrorCorrection(rawValue: text.uppercased()) else {
            throw CLIError("--level must be L, M, Q or H, not '\(text)'")
        }
        return level
    }

    enum Format: String, ExpressibleByArgument, CaseIterable {
        case svg, png, text
    }

    struct Encode: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Encode PAYLOAD (or, without it, standard input's bytes exactly as given) as one QR code.")
        @Option(help: "Error correction: L (7 %), M (15 %), Q (25 %) or H (30 %).") var level = "M"
        @Option(help: "svg, png, or text (for a terminal).") var format: Format = .svg
        @Option(help: "Write here instead of standard output.") var out: String?
        @Option(name: .customLong("min-version"), help: "The smallest version to use (1 ... 40).") var minimumVersion = 1
        @Option(help: "Use this mask (0 ... 7) instead of the one with the lowest penalty.") var mask: Int?
        @Option(help: "Pixels per module (PNG; the SVG's width and height, 0 to leave them out).") var scale = 4
        @Option(name: .customLong("quiet-zone"), help: "Light modules around the symbol.") var quietZone = 4
        @Option(help: "The SVG's title and aria-label.") var label: String?
        @Argument(help: "The payload, encoded as UTF-8.") var payload: String?

        func run() async throws {
            try await reportingErrors {
                let bytes = payload.map { Array($0.utf8) } ?? [UInt8](FileHandle.standardInput.readDataToEndOfFile())
                let code = try QRCode(bytes: bytes, correction: try QRCommand.level(level), minimumVersion: minimumVersion, mask: mask)
                let output: [UInt8]
                switch format {
                case .svg: output = Array(code.svg(moduleSize: scale, quietZone: quietZone, label: label).utf8)
                case .png: output = code.png(scale: scale, quietZone: quietZone)
                case .text: output = Array(QRCommand.text(code, quietZone: quietZone).utf8)
                }
                if let out {
                    guard FileManager.default.createFile(atPath: out, contents: Data(output)) else { throw CLIError("cannot write '\(out)'") }
                    FileHandle.standardError.write(Data("version \(code.version)-\(code.correction.rawValue), mask \(code.mask), \(code.size)×\(code.size) modules, \(bytes.count) bytes → \(out)\n".utf8))
                } else {
                    FileHandle.standardOutput.write(Data(output))
                }
            }
        }
    }

    /// Two rows of modules per line of text with the half-block characters, light on dark terminals' default.
    static func text(_ code: QRCode, quietZone: Int) -> String {
        let quiet = max(0, quietZone)
        var result = ""
        var y = -quiet
        while y < code.size + quiet {
            for x in -quiet..<(code.size + quiet) {
                switch (code.isDark(x: x, y: y), code.isDark(x: x, y: y + 1)) {
                case (false, false): result += "█"
                case (false, true): result += "▀"
                case (true, false): result += "▄"
                case (true, true): result += " "
                }
            }
            result += "\n"
            y += 2
        }
        return result
    }

    struct Batch: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Encode many codes in one process: JSON lines on standard input, files into a directory.",
            discussion: """
                Each input line: {"payload_base64": "...", "level": "M"} and optionally "min_version", "mask", \
                "format" ("png" or "svg") and "name" (letters, digits, '.', '_', '-'; default the line's number, \
                000000 ...). Each output line: {"index": n, "file": "...", "version": v, "mask": m} or \
                {"index": n, "error": "<code>", "detail": "..."}. Exits 1 if any line failed.
                """)
        @Option(help: "The directory for the files (created if missing).") var dir: String
        @Option(help: "Format when a line names none.") var format: Format = .png
        @Option(help: "Pixels per module.") var scale = 4
        @Option(name: .customLong("quiet-zone"), help: "Light modules around the symbol.") var quietZone = 4

        struct Line: Decodable {
            let payload_base64: String
            let level: String?
            let min_version: Int?
            let mask: Int?
            let format: String?
            let name: String?
        }

        func run() async throws {
            try await reportingErrors {
                try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
                var failures = 0
                var index = 0
                let decoder = JSONDecoder()
                while let text = readLine(strippingNewline: true) {
                    defer { index += 1 }
                    if text.isEmpty { continue }
                    var reply: [String: Any] = ["index": index]
                    do {
                        let line = try decoder.decode(Line.self, from: Data(text.utf8))
                        guard let payload = Data(base64Encoded: line.payload_base64) else { throw CLIError("payload_base64 is not base64") }
                        let name = line.name ?? String(format: "%06d", index)
                        guard !name.isEmpty, !name.hasPrefix("."), name.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "._-".contains($0)) }) else {
                            throw CLIError("name '\(name)' is not letters, digits, '.', '_' and '-'")
                        }
                        guard let kind = Format(rawValue: line.format ?? format.rawValue), kind != .text else {
                            throw CLIError("format must be png or svg")
                        }
                        let code = try QRCode(bytes: [UInt8](payload), correction: try QRCommand.level(line.level ?? "M"),
                                              minimumVersion: line.min_version ?? 1, mask: line.mask)
                        let file = (dir as NSString).appendingPathComponent("\(name).\(kind.rawValue)")
                        let bytes = kind == .svg ? Array(code.svg(moduleSize: scale, quietZone: quietZone).utf8) : code.png(scale: scale, quietZone: quietZone)
                        guard FileManager.default.createFile(atPath: file, contents: Data(bytes)) else { throw CLIError("cannot write '\(file)'") }
                        reply["file"] = file
                        reply["version"] = code.version
                        reply["mask"] = code.mask
                    } catch let error as QRError {
                        failures += 1
                        reply["error"] = error.code
                        reply["detail"] = error.description
                    } catch {
                        failures += 1
                        reply["error"] = "bad-line"
                        reply["detail"] = String(describing: error)
                    }
                    let json = try JSONSerialization.data(withJSONObject: reply, options: [.sortedKeys])
                    FileHandle.standardOutput.write(json + Data("\n".utf8))
                }
                if failures > 0 { throw CLIError("\(failures) of \(index) lines failed") }
            }
        }
    }

    struct Bench: AsyncParsableCommand {
        /// CPU time of the calling thread.
        static func threadCPUSeconds() -> Double {
            var time = timespec()
            clock_gettime(CLOCK_THREAD_CPUTIME_ID, &time)
            return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
        }

        static let configuration = CommandConfiguration(
            abstract: "Encode COUNT random printable payloads of a size and print codes per second (one thread).",
            discussion: "matrix: the symbol only (mask chosen by penalty); svg and png: the symbol and its file.")
        @Option(name: .customLong("payload-bytes"), help: "Bytes per payload.") var payloadBytes = 100
        @Option(help: "Codes per measurement.") var count = 20000
        @Option(help: "Error correction level.") var level = "M"
        @Option(help: "matrix, svg, png or all.") var output = "all"
        @Option(help: "PNG pixels per module.") var scale = 4

        func run() async throws {
            try await reportingErrors {
                let correction = try QRCommand.level(level)
                let kinds = output == "all" ? ["matrix", "svg", "png"] : [output]
                guard kinds.allSatisfy({ ["matrix", "svg", "png"].contains($0) }) else { throw CLIError("--output must be matrix, svg, png or all") }
                guard count > 0, payloadBytes >= 0 else { throw CLIError("--count must be positive and --payload-bytes not negative") }
                // 1,024 distinct payloads (printable ASCII, as URLs are), from a fixed seed so runs compare.
                var state: UInt64 = 0x9E37_79B9_7F4A_7C15
                func next() -> UInt64 {
                    state &+= 0x9E37_79B9_7F4A_7C15
                    var z = state
                    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
                    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
                    return z ^ (z >> 31)
                }
                let payloads = (0..<1024).map { _ in (0..<payloadBytes).map { _ in UInt8(33 + next() % 94) } }
                let sample = try QRCode(bytes: payloads[0], correction: correction)
                print("qr bench: \(count) codes per measurement, \(payloadBytes)-byte payloads, level \(correction.rawValue), version \(sample.version) (\(sample.size)×\(sample.size)), one thread")
                for kind in kinds {
                    var checksum = 0
                    // A short warm-up builds the version's template and touches the tables.
                    for payload in payloads.prefix(64) { checksum &+= try QRCode(bytes: payload, correction: correction).mask }
                    let clock = ContinuousClock()
                    let cpuStart = Self.threadCPUSeconds()
                    let start = clock.now
                    for index in 0..<count {
                        let code = try QRCode(bytes: payloads[index & 1023], correction: correction)
                        switch kind {
                        case "svg": checksum &+= code.svg().utf8.count
                        case "png": checksum &+= code.png(scale: scale).count
                        default: checksum &+= code.mask
                        }
                    }
                    let elapsed = clock.now - start
                    let cpu = Self.threadCPUSeconds() - cpuStart
                    let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
                    // Wall time is what a caller waits; CPU time is what the encoder costs when other work shares
                    // the cores (on a busy machine the two differ).
                    print("\(kind): \(count) codes in " + String(format: "%.3f s = %.0f codes/s (%.1f µs each); CPU %.3f s = %.0f codes/s per core",
                                                                  seconds, Double(count) / seconds, seconds / Double(count) * 1e6, cpu, Double(count) / cpu)
                          + "; checksum \(checksum)")
                }
            }
        }
    }
}
