// The Java Kafka client's choice of partition for keyed records, for comparison with kafkajs.
//
// Run with the broker's kafka-clients jar (single-file source launch, Java 11+):
//   java -cp '.cache/kafka/libs/*' tests/support/JavaPartitioner.java 3,6,7 x3131353939 x
// Arguments: comma-separated partition counts, then keys as "x" + hex of their UTF-8 bytes
// (hex keeps non-ASCII keys independent of the JVM's argv encoding; "x" alone = empty key).
// Each key is decoded to a String and serialized with StringSerializer, as a Java producer with
// key.serializer=StringSerializer would, then placed by BuiltInPartitioner.partitionForKey, the
// code path of the Java producer's default partitioning for records with a key.
// Output: one JSON object per key: {"key":"<hex>","murmur2":<int>,"partitions":{"3":p,...}}

import java.nio.charset.StandardCharsets;
import org.apache.kafka.clients.producer.internals.BuiltInPartitioner;
import org.apache.kafka.common.serialization.StringSerializer;
import org.apache.kafka.common.utils.Utils;

public class JavaPartitioner {
  public static void main(String[] args) {
    if (args.length < 1) {
      System.err.println("usage: JavaPartitioner <n1,n2,...> [x<hex-utf8-key> ...]");
      System.exit(2);
    }
    String[] counts = args[0].split(",");
    StringBuilder out = new StringBuilder();
    try (StringSerializer serializer = new StringSerializer()) {
      for (int i = 1; i < args.length; i++) {
        String hex = args[i].substring(1);
        String key = new String(fromHex(hex), StandardCharsets.UTF_8);
        byte[] bytes = serializer.serialize("any-topic", key);
        out.append("{\"key\":\"").append(hex).append("\",\"murmur2\":").append(Utils.murmur2(bytes));
        out.append(",\"partitions\":{");
        for (int c = 0; c < counts.length; c++) {
          int n = Integer.parseInt(counts[c]);
          if (c > 0) out.append(',');
          out.append('"').append(n).append("\":").append(BuiltInPartitioner.partitionForKey(bytes, n));
        }
        out.append("}}\n");
      }
    }
    System.out.print(out);
  }

  private static byte[] fromHex(String hex) {
    byte[] b = new byte[hex.length() / 2];
    for (int i = 0; i < b.length; i++) {
      b[i] = (byte) Integer.parseInt(hex.substring(2 * i, 2 * i + 2), 16);
    }
    return b;
  }
}
