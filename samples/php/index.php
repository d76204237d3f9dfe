<?php
// Tiny Modulus sample: the run image's nginx + php-fpm serve this on $PORT.
header('Content-Type: text/plain');
echo 'modulus sample php app on PHP ' . PHP_VERSION . "\n";
