package dev.tether.internal;

import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelPipeline;
import io.vertx.core.Future;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.internal.buffer.BufferInternal;
import io.vertx.core.internal.net.NetSocketInternal;
import io.vertx.core.net.NetSocket;

/**
 * Every use of Vert.x's internal API lives here, so a Vert.x upgrade breaks one small class. Vert.x
 * 5.0.7 names the application handler of a socket's pipeline {@code "handler"}; outbound writes
 * start there and travel towards the head, through whatever is added before it.
 */
public final class NettyAccess {

  /** Name of Vert.x's own connection handler in the pipeline. */
  public static final String VERTX_HANDLER = "handler";

  private NettyAccess() {
  }

  public static Channel channel(NetSocket socket) {
    return ((NetSocketInternal) socket).channelHandlerContext().channel();
  }

  /**
   * Adds {@code handler} just before Vert.x's handler, i.e. first on the outbound path.
   *
   * @return false when the pipeline has no Vert.x handler (the socket is already closed)
   */
  public static boolean addFirstOutbound(NetSocket socket, String name, ChannelHandler handler) {
    ChannelPipeline pipeline = channel(socket).pipeline();
    if (pipeline.get(VERTX_HANDLER) == null) {
      return false;
    }
    pipeline.addBefore(VERTX_HANDLER, name, handler);
    return true;
  }

  /** Adds {@code handler} just before (towards the head of) the handler named {@code base}. */
  public static void addBefore(NetSocket socket, String base, String name, ChannelHandler handler) {
    channel(socket).pipeline().addBefore(base, name, handler);
  }

  /**
   * Writes a message object through Vert.x's outbound queue (in order with every other write on
   * this socket); the pipeline handlers added before Vert.x's handler see it as it is.
   */
  public static Future<Void> writeMessage(NetSocket socket, Object message) {
    return ((NetSocketInternal) socket).writeMessage(message);
  }

  /** A Netty view of {@code buffer} from {@code from} on, sharing its memory; safe to release. */
  public static ByteBuf byteBuf(Buffer buffer, int from) {
    ByteBuf buf = ((BufferInternal) buffer).getByteBuf();
    return from == 0 ? buf : buf.slice(buf.readerIndex() + from, buf.readableBytes() - from);
  }

  /**
   * Closes the channel now, failing whatever Netty still holds (no flush-before-close). The close
   * starts at Vert.x's handler context, so it goes straight towards the head: {@code channel.close()}
   * would enter Vert.x's handler, which queues the close behind pending writes, and a stalled peer
   * would then keep the connection open for ever.
   */
  public static void abort(NetSocket socket) {
    ((NetSocketInternal) socket).channelHandlerContext().close();
  }
}
