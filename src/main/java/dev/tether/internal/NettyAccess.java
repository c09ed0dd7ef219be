package dev.tether.internal;

import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelPipeline;
import io.netty.channel.ChannelPromise;
import io.netty.channel.nio.AbstractNioChannel;
import io.vertx.core.Future;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.internal.ContextInternal;
import io.vertx.core.internal.buffer.BufferInternal;
import io.vertx.core.internal.net.NetSocketInternal;
import io.vertx.core.net.NetSocket;
import io.vertx.core.net.NetServer;
import io.vertx.core.net.impl.ConnectionBase;
import io.vertx.core.net.impl.NetServerImpl;
import io.vertx.core.net.impl.VertxConnection;

import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.nio.channels.SelectableChannel;
import java.nio.channels.ServerSocketChannel;

/**
 * Every use of Vert.x's internal and implementation API lives here, so a Vert.x upgrade breaks one small class. Vert.x
 * 5.0.7 names the application handler of a socket's pipeline {@code "handler"}; outbound writes
 * start there and travel towards the head, through whatever is added before it.
 */
public final class NettyAccess {

  /** Name of Vert.x's own connection handler in the pipeline. */
  public static final String VERTX_HANDLER = "handler";

  private NettyAccess() {
  }

  /** The context that owns {@code socket}: its handlers run there. */
  public static ContextInternal context(NetSocket socket) {
    return ((ConnectionBase) socket).context();
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
   * Writes a message object through Vert.x's outbound queue with {@code promise} as its Netty
   * promise: Vert.x hands both, as they are, to the pipeline handler added before its own. This
   * uses Vert.x's connection implementation ({@code VertxConnection.writeToChannel}) and saves the
   * Vert.x promise and bridging Netty promise that {@code writeMessage} would allocate per write;
   * for any other socket it falls back to {@link #writeMessage} (the handler then sees Vert.x's
   * promise and must complete it).
   */
  public static void write(NetSocket socket, Object message, ChannelPromise promise) {
    if (socket instanceof VertxConnection connection) {
      connection.writeToChannel(message, promise);
    } else {
      writeMessage(socket, message);
    }
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
   * The listening Netty channel behind a Vert.x {@code NetServer} that listens, or null when it cannot be had
   * (not a {@code NetServerImpl}, not listening, or Vert.x's fields changed). Vert.x 5.0.7 keeps it in the
   * private {@code bindFuture} of the server that bound the port ({@code actualServer}: itself, or the first
   * server listening on the same host and port when verticle instances share it); there is no public
   * accessor, and Vert.x sets no {@code ServerBootstrap.handler}, so this is the only way onto the server
   * channel's pipeline (where Netty fires accept failures).
   */
  @SuppressWarnings("unchecked")
  public static Channel serverChannel(NetServer server) {
    if (!(server instanceof NetServerImpl impl)) {
      return null;
    }
    try {
      MethodHandles.Lookup lookup = MethodHandles.privateLookupIn(NetServerImpl.class, MethodHandles.lookup());
      Object actual = lookup.findGetter(NetServerImpl.class, "actualServer", NetServerImpl.class).invoke(impl);
      Future<Channel> bound = (Future<Channel>) lookup
        .findGetter(NetServerImpl.class, "bindFuture", Future.class).invoke(actual == null ? impl : actual);
      return bound == null ? null : bound.result();
    } catch (Throwable t) {
      return null;
    }
  }

  private static final MethodHandle JAVA_CHANNEL = javaChannelHandle();

  private static MethodHandle javaChannelHandle() {
    try {
      return MethodHandles.privateLookupIn(AbstractNioChannel.class, MethodHandles.lookup())
        .findVirtual(AbstractNioChannel.class, "javaChannel", MethodType.methodType(SelectableChannel.class));
    } catch (ReflectiveOperationException | RuntimeException e) {
      return null;
    }
  }

  /**
   * The JDK channel under a Netty NIO server channel ({@code AbstractNioChannel.javaChannel()}, protected),
   * or null for another transport (epoll, io_uring: their accept is native code with no Java-level handle).
   */
  public static ServerSocketChannel javaServerChannel(Channel channel) {
    if (JAVA_CHANNEL == null || !(channel instanceof AbstractNioChannel)) {
      return null;
    }
    try {
      return (SelectableChannel) JAVA_CHANNEL.invoke((AbstractNioChannel) channel) instanceof ServerSocketChannel ssc
        ? ssc : null;
    } catch (Throwable t) {
      return null;
    }
  }
}
