#!/usr/bin/python3
"""A real RTSP camera for tests and demos: serves an H.264 MP4 over RTSP, looping it forever.

Run by the system Python (Debian's python3-gi and gir1.2-gst-rtsp-server-1.0; a virtualenv cannot
see `gi`):

    /usr/bin/python3 scripts/rtsp_server.py --port 8554 --file clip.mp4 --path /cam

Prints `RTSP server ready at rtsp://127.0.0.1:<port><path>` once it listens. Each client gets its own
pipeline; the video is never re-encoded (demuxed and repacketised only), and at its end the file
starts again while the stream's timestamps keep rising (see Looper)."""

from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtspServer  # noqa: E402


class Looper:
    """Make one media loop forever without its client noticing. At the demuxer's end of stream
    the EOS is dropped before it reaches the parser, the demuxer alone seeks back to the start
    (the flush events of that seek are dropped too, so nothing downstream resets), and the
    parser's input gets a running-time offset of the clip's length per lap: the RTP timestamps
    keep rising. A seek of the whole pipeline (a client's PLAY with a range) flushes as usual and
    starts the count again."""

    FALLBACK_FRAME_NS = 40_000_000  # a buffer without a duration: assume 25 fps

    def __init__(self, media: GstRtspServer.RTSPMedia) -> None:
        bin_ = media.get_element()
        self.demux = bin_.get_by_name("demux")
        self.pad = bin_.get_by_name("parse").get_static_pad("sink")
        self.lap_end_ns = 0  # where the current lap's last frame ends (stream time)
        self.offset_ns = 0
        self.rewind_seqnum: int | None = None
        self.pad.add_probe(Gst.PadProbeType.EVENT_DOWNSTREAM | Gst.PadProbeType.EVENT_FLUSH, self.on_event)
        self.pad.add_probe(Gst.PadProbeType.BUFFER, self.on_buffer)

    def on_buffer(self, _pad: Gst.Pad, info: Gst.PadProbeInfo) -> Gst.PadProbeReturn:
        buffer = info.get_buffer()
        if buffer.pts != Gst.CLOCK_TIME_NONE:
            duration = buffer.duration if buffer.duration != Gst.CLOCK_TIME_NONE else self.FALLBACK_FRAME_NS
            self.lap_end_ns = max(self.lap_end_ns, buffer.pts + duration)
        return Gst.PadProbeReturn.OK

    def on_event(self, _pad: Gst.Pad, info: Gst.PadProbeInfo) -> Gst.PadProbeReturn:
        event = info.get_event()
        if event.type in (Gst.EventType.FLUSH_START, Gst.EventType.FLUSH_STOP):
            if event.get_seqnum() == self.rewind_seqnum:
                return Gst.PadProbeReturn.DROP  # our own rewind: only the demuxer flushes
            if event.type == Gst.EventType.FLUSH_STOP:  # the pipeline was seeked: time restarts
                self.offset_ns = self.lap_end_ns = 0
                self.pad.set_offset(0)
        elif event.type == Gst.EventType.EOS:
            GLib.idle_add(self.rewind)  # not from the streaming thread that delivers the EOS
            return Gst.PadProbeReturn.DROP
        return Gst.PadProbeReturn.OK

    def rewind(self) -> bool:
        self.offset_ns += self.lap_end_ns
        self.lap_end_ns = 0
        self.pad.set_offset(self.offset_ns)
        seek = Gst.Event.new_seek(1.0, Gst.Format.TIME, Gst.SeekFlags.FLUSH, Gst.SeekType.SET, 0, Gst.SeekType.NONE, -1)
        self.rewind_seqnum = seek.get_seqnum()
        self.demux.send_event(seek)
        return False  # a one-shot GLib source


def loop_media(_factory: GstRtspServer.RTSPMediaFactory, media: GstRtspServer.RTSPMedia) -> None:
    media.looper = Looper(media)  # kept alive as long as the media


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8554)
    parser.add_argument("--file", required=True, help="an MP4 with an H.264 video track")
    parser.add_argument("--path", default="/cam", help="mount point, e.g. /cam")
    parser.add_argument("--host", default="127.0.0.1")
    args = parser.parse_args()
    clip = Path(args.file).resolve()
    if not clip.is_file():
        print(f"error: {clip} is not a file", file=sys.stderr)
        return 2
    path = args.path if args.path.startswith("/") else "/" + args.path

    Gst.init(None)
    server = GstRtspServer.RTSPServer()
    server.set_address(args.host)
    server.set_service(str(args.port))
    factory = GstRtspServer.RTSPMediaFactory()
    location = str(clip).replace("\\", "\\\\").replace('"', '\\"')
    factory.set_launch(
        f'( filesrc location="{location}" ! qtdemux name=demux ! h264parse name=parse config-interval=-1 ! rtph264pay name=pay0 pt=96 )'
    )
    factory.set_shared(False)  # a pipeline per client: one client's PLAY never seeks another's
    factory.connect("media-configure", loop_media)
    server.get_mount_points().add_factory(path, factory)
    if server.attach(None) == 0:
        print(f"error: cannot listen on {args.host}:{args.port}", file=sys.stderr)
        return 1

    loop = GLib.MainLoop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signum, loop.quit)
    print(f"RTSP server ready at rtsp://{args.host}:{args.port}{path}", flush=True)
    loop.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
