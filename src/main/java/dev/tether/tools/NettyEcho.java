package dev.tether.tools;

import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.ByteBufAllocator;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelOption;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.util.concurrent.DefaultThreadFactory;
import io.vertx.core.net.NetServerOptions;
import io.vertx.core.transport.Transport;

import java.net.InetSocketAddress;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The raw Netty echo server of {@code scripts/bench.sh} (variant {@code netty}): the anchor that shows
 * what the Vert.x layer and Tether's tracking cost on top of Netty itself. One
 * {@link MultiThreadIoEventLoopGroup} of exactly one thread accepts and serves every connection; the
 * echo handler writes each received buffer back ({@code ctx.write(msg)} in {@code channelRead},
 * {@code ctx.flush()} in {@code channelReadComplete}, as Netty's own echo example) and stops reading a
 * connection while it is not writable (auto-read off, back on when it becomes writable again).
 *
 * <p>Same transport and socket options as the Vert.x variants of the run: the {@link
 * io.netty.channel.IoHandlerFactory} ({@code NioIoHandler}, {@code EpollIoHandler} or {@code
 * IoUringIoHandler}) and the server channel ({@code NioServerSocketChannel}, {@code
 * EpollServerSocketChannel} or {@code IoUringServerSocketChannel}) come from the same {@link Transport}
 * object the Vert.x variants are built with, and the socket options are set by that transport's
 * {@code configure(NetServerOptions, ...)} with default {@link NetServerOptions}, the call
 * Vert.x's {@code NetServerImpl} makes (SO_REUSEADDR on, TCP_NODELAY on, SO_KEEPALIVE off; with epoll
 * and io_uring also SO_REUSEPORT, TCP_QUICKACK and TCP_CORK off). Nothing of Vert.x runs once the
 * server is bound. The read allocator is the one given (the benchmark's default:
 * {@code PooledByteBufAllocator.DEFAULT}; Vert.x's servers read with {@code ByteBufAllocator.DEFAULT},
 * which is Netty 4.2's adaptive allocator unless {@code -Dio.netty.allocator.type} says otherwise).
 */
public final class NettyEcho implements AutoCloseable {

  private final MultiThreadIoEventLoopGroup group;
  private final Channel server;
  private final Thread loop;
  private final EchoHandler handler;
  private final Map<String, Object> options;

  private NettyEcho(MultiThreadIoEventLoopGroup group, Channel server, Thread loop, EchoHandler handler,
                    Map<String, Object> options) {
    this.group = group;
    this.server = server;
    this.loop = loop;
    this.handler = handler;
    this.options = options;
  }

  /**
   * Binds an echo server to {@code host}, port {@code port} (0: any free port).
   *
   * @throws IllegalStateException if {@code transport} is not available here
   */
  public static NettyEcho start(Transport transport, ByteBufAllocator allocator, String host, int port)
    throws Exception {
    if (!transport.available()) {
      throw new IllegalStateException("transport " + transport.name() + " is not available: "
        + transport.unavailabilityCause(), transport.unavailabilityCause());
    }
    io.vertx.core.spi.transport.Transport impl = transport.implementation();
    MultiThreadIoEventLoopGroup group = new MultiThreadIoEventLoopGroup(1,
      new DefaultThreadFactory("bench-netty-loop"), impl.ioHandlerFactory());
    try {
      EchoHandler handler = new EchoHandler();
      ServerBootstrap b = new ServerBootstrap().group(group).channelFactory(impl.serverChannelFactory(false));
      impl.configure(new NetServerOptions(), false, b);
      b.childOption(ChannelOption.ALLOCATOR, allocator);
      b.childHandler(handler);
      Map<String, Object> options = new TreeMap<>();
      b.config().options().forEach((k, v) -> options.put(optionName(k), v));
      b.config().childOptions().forEach((k, v) -> options.put("child." + optionName(k),
        k == ChannelOption.ALLOCATOR ? v.getClass().getSimpleName() : v));
      Channel server = b.bind(host, port).sync().channel();
      // one thread in the group: the server channel and every connection run on it
      Thread loop = group.next().submit(Thread::currentThread).get(10, TimeUnit.SECONDS);
      return new NettyEcho(group, server, loop, handler, options);
    } catch (Exception | Error e) {
      group.shutdownGracefully(0, 0, TimeUnit.SECONDS);
      throw e;
    }
  }

  /** TCP_CORK for EpollChannelOption#TCP_CORK, as the plain ones are named. */
  private static String optionName(ChannelOption<?> option) {
    String name = option.name();
    return name.substring(name.indexOf('#') + 1);
  }

  public int port() {
    return ((InetSocketAddress) server.localAddress()).getPort();
  }

  /** The group's only event-loop thread. */
  public Thread eventLoopThread() {
    return loop;
  }

  /** The server channel's class, e.g. {@code io.netty.channel.epoll.EpollServerSocketChannel}. */
  public String serverChannelClass() {
    return server.getClass().getName();
  }

  /** The options set on the server channel and ({@code child.}) on every connection. */
  public Map<String, Object> options() {
    return options;
  }

  /** How many times a connection stopped reading because it was not writable. */
  public long pauses() {
    return handler.pauses.get();
  }

  /** How many times a connection read again after it became writable. */
  public long resumes() {
    return handler.resumes.get();
  }

  @Override
  public void close() throws Exception {
    try {
      server.close().sync();
    } finally {
      group.shutdownGracefully(0, 2, TimeUnit.SECONDS).sync();
    }
  }

  /** Echo with back-pressure on writability; runs on the one event loop, stateless but for counters. */
  @ChannelHandler.Sharable
  static final class EchoHandler extends ChannelInboundHandlerAdapter {

    final AtomicLong pauses = new AtomicLong();
    final AtomicLong resumes = new AtomicLong();

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
      ctx.write(msg);
      if (!ctx.channel().isWritable() && ctx.channel().config().isAutoRead()) {
        ctx.channel().config().setAutoRead(false);
        pauses.incrementAndGet();
      }
    }

    @Override
    public void channelReadComplete(ChannelHandlerContext ctx) {
      ctx.flush();
    }

    @Override
    public void channelWritabilityChanged(ChannelHandlerContext ctx) {
      if (ctx.channel().isWritable() && !ctx.channel().config().isAutoRead()) {
        ctx.channel().config().setAutoRead(true);
        resumes.incrementAndGet();
      }
      ctx.fireChannelWritabilityChanged();
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
      ctx.close();
    }
  }
}
