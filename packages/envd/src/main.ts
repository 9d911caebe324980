console.log('envd');
