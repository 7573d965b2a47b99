// The simulated card at Verilator's own speed: frames in and outputs out in bulk, with no
// Python in the cycle loop (hw/tb/harness.py builds this beside the card's Verilog and drives
// it; docs/fastpath.md, "RTL replay").
//
// Usage: replay FRAMES OUT_DIR
//   FRAMES: records of (u32 length, u64 stamp, bytes), little-endian (hw/tb/replay.py).
//   OUT_DIR: updates.bin, events.bin, egress.bin are appended as the card emits them:
//     updates.bin, events.bin: each valid o_update / o_event payload, its bits as 32-bit
//       little-endian words, least significant first;
//     egress.bin: the egress bytes (each beat's `keep` lanes).
// Commands on stdin, one per line; answers on stdout, one line each:
//   frames A B      drive frames A..B-1: each beat a cycle, then IDLE_BETWEEN_FRAMES idle
//                   cycles; with stamped time the PTP clock takes the frame's stamp (never
//                   running backwards) at its first beat          -> "ok CYCLES"
//   time free       the PTP clock runs free instead: N during the cycle whose rising edge is
//                   the N-th (the tick-to-trade benchmark)          -> "ok CYCLES"
//   time own        the card's own PTP clock runs (the served card: the host sets it through
//                   its registers)                                  -> "ok CYCLES"
//   frame HEX       drive one frame given inline, as `frames` does  -> "ok CYCLES"
//   write ADDR V    one CSR word write (the card's request/acknowledge port) -> "ok CYCLES"
//   read ADDR       one CSR word read                               -> "VALUE"
//   settle N        run until `busy` has been low N cycles in a row -> "ok CYCLES"
//   idle N          run N cycles with nothing driven                -> "ok CYCLES"
//   beats PATH      write the cycle each frame's beats were sampled at (free time), u64 each
//   quit            flush and exit
// Every answer follows a flush of the output files, so the host may read them at once.

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "Vnic.h"
#include "verilated.h"

// Verilator spells a port named a__b as a___05Fb (it escapes double underscores).
static const int IDLE_BETWEEN_FRAMES = 2;

struct Frame {
    uint64_t stamp;
    std::vector<uint8_t> bytes;
};

static std::vector<Frame> read_frames(const char* path) {
    std::vector<Frame> frames;
    FILE* f = std::fopen(path, "rb");
    if (!f) {
        std::perror(path);
        std::exit(2);
    }
    for (;;) {
        uint32_t length;
        uint64_t stamp;
        if (std::fread(&length, 4, 1, f) != 1) break;
        if (std::fread(&stamp, 8, 1, f) != 1) {
            std::fprintf(stderr, "%s: a record cut short\n", path);
            std::exit(2);
        }
        Frame frame{stamp, std::vector<uint8_t>(length)};
        if (length && std::fread(frame.bytes.data(), 1, length, f) != length) {
            std::fprintf(stderr, "%s: a frame cut short\n", path);
            std::exit(2);
        }
        frames.push_back(std::move(frame));
    }
    std::fclose(f);
    return frames;
}

// A port's bits as 32-bit words, least significant first (Verilator keeps them so).
template <typename T>
static void put_words(FILE* f, const T& value) {
    std::fwrite(&value, sizeof(T), 1, f);
}

struct Card {
    std::unique_ptr<VerilatedContext> context{new VerilatedContext};
    std::unique_ptr<Vnic> top;
    FILE* updates;
    FILE* events;
    FILE* egress;
    uint64_t cycles = 0;     // rising edges since reset
    bool free_time = false;
    uint64_t now = 0;        // stamped time: the PTP clock as the last frame set it

    explicit Card(const std::string& out) {
        top.reset(new Vnic{context.get()});
        updates = open(out + "/updates.bin");
        events = open(out + "/events.bin");
        egress = open(out + "/egress.bin");
    }

    static FILE* open(const std::string& path) {
        FILE* f = std::fopen(path.c_str(), "wb");
        if (!f) {
            std::perror(path.c_str());
            std::exit(2);
        }
        return f;
    }

    // One clock: the rising edge (the outputs are sampled after it, as the cocotb collector
    // does), then the falling edge, where the host's inputs for the next cycle are set.
    void tick() {
        if (free_time) top->time_value = cycles + 1;   // time N at the N-th rising edge
        top->clk = 1;
        top->eval();
        ++cycles;
        if (top->o_update___05Fvalid) put_words(updates, top->o_update___05Fpayload);
        if (top->o_event___05Fvalid) put_words(events, top->o_event___05Fpayload);
        if (top->o_egress___05Fvalid) {
            const auto& beat = top->o_egress___05Fpayload;   // data 64 | keep 8 | first | last
            uint8_t lanes[8];
            std::memcpy(lanes, &beat[0], 4);
            std::memcpy(lanes + 4, &beat[1], 4);
            unsigned keep = beat[2] & 0xFF;
            unsigned size = 0;
            while (keep >> size & 1) ++size;
            std::fwrite(lanes, 1, size, egress);
        }
        top->clk = 0;
        top->eval();
    }

    void reset() {
        top->rst = 1;
        top->i_frame___05Fvalid = 0;
        top->time_load = 1;          // the host is the card's PTP clock
        top->time_value = 0;
        top->o_egress___05Fready = 1;
        top->o_event___05Fready = 1;
        top->csr___05Fvalid = 0;
        top->uart_rx = 1;            // the line idles high
        top->clk = 0;
        top->eval();
        tick();
        tick();
        top->rst = 0;
        top->eval();
    }

    void drive(const Frame& frame, std::vector<uint64_t>* sampled) {
        size_t n = frame.bytes.size();
        size_t beats = n ? (n + 7) / 8 : 1;
        for (size_t b = 0; b < beats; ++b) {
            uint8_t lanes[8] = {0};
            size_t size = n ? std::min<size_t>(8, n - 8 * b) : 0;
            if (size) std::memcpy(lanes, frame.bytes.data() + 8 * b, size);
            auto& p = top->i_frame___05Fpayload;
            std::memcpy(&p[0], lanes, 4);
            std::memcpy(&p[1], lanes + 4, 4);
            p[2] = ((1u << size) - 1) | (b == 0 ? 1u << 8 : 0) | (b + 1 == beats ? 1u << 9 : 0);
            if (b == 0 && !free_time && top->time_load) {
                if (frame.stamp > now) now = frame.stamp;   // the PTP clock never runs back
                top->time_value = now;
            }
            if (sampled) sampled->push_back(cycles + 1);
            top->i_frame___05Fvalid = 1;
            tick();
        }
        top->i_frame___05Fvalid = 0;
        for (int i = 0; i < IDLE_BETWEEN_FRAMES; ++i) tick();
    }

    // One word over the request/acknowledge port: ack is high for the cycle whose rising edge
    // completes the access (hw/rtl/hostbus.py).
    uint32_t access(uint32_t address, bool write, uint32_t value) {
        top->csr___05Fvalid = 1;
        top->csr___05Faddr = address;
        top->csr___05Fwrite = write;
        top->csr___05Fw_data = value;
        uint32_t data;
        for (;;) {
            tick();
            if (top->csr___05Fack) {
                data = top->csr___05Fr_data;
                break;
            }
        }
        tick();
        top->csr___05Fvalid = 0;
        return data;
    }

    void settle(int quiet_cycles) {
        int quiet = 0;
        while (quiet < quiet_cycles) {
            tick();
            quiet = top->busy ? 0 : quiet + 1;
        }
    }

    void flush() {
        std::fflush(updates);
        std::fflush(events);
        std::fflush(egress);
    }

    void close() {
        flush();
        std::fclose(updates);
        std::fclose(events);
        std::fclose(egress);
        top->final();
    }
};

int main(int argc, char** argv) {
    if (argc != 3) {
        std::fprintf(stderr, "usage: %s FRAMES OUT_DIR\n", argv[0]);
        return 2;
    }
    std::vector<Frame> frames = read_frames(argv[1]);
    Card card(argv[2]);
    card.reset();
    std::vector<uint64_t> sampled;
    std::string line;
    while (std::getline(std::cin, line)) {
        std::istringstream words(line);
        std::string command;
        words >> command;
        if (command == "frames") {
            size_t first, end;
            words >> first >> end;
            if (end > frames.size() || first > end) {
                std::printf("error frames %zu %zu of %zu\n", first, end, frames.size());
                std::fflush(stdout);
                continue;
            }
            for (size_t i = first; i < end; ++i)
                card.drive(frames[i], card.free_time ? &sampled : nullptr);
        } else if (command == "time") {
            std::string mode;
            words >> mode;
            if (mode == "own") {
                card.top->time_load = 0;
            } else {
                card.free_time = true;
            }
        } else if (command == "frame") {
            std::string hex;
            words >> hex;
            Frame frame{0, std::vector<uint8_t>(hex.size() / 2)};
            for (size_t i = 0; i < frame.bytes.size(); ++i)
                frame.bytes[i] = static_cast<uint8_t>(std::stoul(hex.substr(2 * i, 2),
                                                                 nullptr, 16));
            card.drive(frame, nullptr);
        } else if (command == "write") {
            uint32_t address, value;
            words >> address >> value;
            card.access(address, true, value);
        } else if (command == "read") {
            uint32_t address;
            words >> address;
            uint32_t value = card.access(address, false, 0);
            card.flush();
            std::printf("%u\n", value);
            std::fflush(stdout);
            continue;
        } else if (command == "settle") {
            int quiet;
            words >> quiet;
            card.settle(quiet);
        } else if (command == "idle") {
            uint64_t n;
            words >> n;
            for (uint64_t i = 0; i < n; ++i) card.tick();
        } else if (command == "beats") {
            std::string path;
            words >> path;
            FILE* f = std::fopen(path.c_str(), "wb");
            if (f) {
                std::fwrite(sampled.data(), 8, sampled.size(), f);
                std::fclose(f);
            }
        } else if (command == "quit") {
            break;
        } else {
            std::printf("error unknown command %s\n", command.c_str());
            std::fflush(stdout);
            continue;
        }
        card.flush();
        std::printf("ok %llu\n", static_cast<unsigned long long>(card.cycles));
        std::fflush(stdout);
    }
    card.close();
    return 0;
}
