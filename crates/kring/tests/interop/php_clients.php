<?php
// A PHP integration as its authors would write it: ext/curl with CURLFile for the ManageIt
// multipart create, Guzzle (Debian's php-guzzlehttp-guzzle) for the JSON calls. Prints a JSON
// report of what the server answered. Arguments: base URL, token, the ids of a text, a
// multiselect and a file field, a PDF to upload.
require_once '/usr/share/php/GuzzleHttp/autoload.php';
require_once '/usr/share/php/GuzzleHttp/Psr7/autoload.php';
require_once '/usr/share/php/GuzzleHttp/Promise/autoload.php';

[$_, $base, $token, $tier, $colours, $documents, $pdf] = $argv;
$report = [];

// ManageIt: multipart through ext/curl, the way the seed's PHP sample sends it.
$curl = curl_init("$base/api/customers");
curl_setopt_array($curl, [
    CURLOPT_POST => true,
    CURLOPT_RETURNTRANSFER => true,
    CURLOPT_HTTPHEADER => ["Authorization: Bearer $token", 'Accept: application/json'],
    CURLOPT_POSTFIELDS => [
        'name' => 'Ann',
        'last_name' => 'Php',
        'email' => 'ann.php@example.test',
        'phone' => '0612345678',
        'business_information[company_name]' => 'Curl BV',
        'permissions[invoice][view-invoice]' => '1',
        "custom_fields[$tier][value]" => 'gold',
        "custom_fields[$colours][value][0]" => 'red',
        "custom_fields[$colours][value][1]" => 'blue',
        "custom_fields[$documents][file_upload][files][]" => new CURLFile($pdf, 'application/pdf', 'contract.pdf'),
    ],
]);
$body = json_decode(curl_exec($curl), true);
$report['created'] = curl_getinfo($curl, CURLINFO_RESPONSE_CODE);
$id = $body['data']['id'];
$values = [];
foreach ($body['data']['custom_fields'] as $field) {
    $values[$field['id']] = $field['custom_field_values'][0]['value'];
}
$report['colours'] = $values[$colours];
$report['file_name'] = $values[$documents][0]['name'];

// The file's link opens with no header.
$link = curl_init($values[$documents][0]['path']);
curl_setopt($link, CURLOPT_RETURNTRANSFER, true);
$bytes = curl_exec($link);
$report['download'] = curl_getinfo($link, CURLINFO_RESPONSE_CODE);
$report['same_bytes'] = $bytes === file_get_contents($pdf);

// Cirqll and ManageIt JSON through Guzzle.
$http = new GuzzleHttp\Client([
    'base_uri' => $base,
    'http_errors' => false,
    'headers' => ['Authorization' => "Bearer $token", 'Accept' => 'application/json'],
]);
$report['patched'] = $http->patch("/api/customer/$id", ['json' => ['name' => 'Guzzle BV']])->getStatusCode();
$list = json_decode($http->get('/api/customer', ['query' => [
    'filter' => "field_values.$colours:eq:red", 'with' => 'field_values',
]])->getBody(), true);
$report['filtered'] = count($list['data']);
$list = json_decode($http->get('/api/customers', ['query' => ['filter' => 'name:eq:Ann']])->getBody(), true);
$report['manageit_filtered'] = count($list['data']);
$invalid = $http->post('/api/customer', ['json' => ['email' => 'not an email']]);
$report['invalid'] = $invalid->getStatusCode();
$errors = json_decode($invalid->getBody(), true)['errors'];
$report['error_fields'] = array_keys($errors);
sort($report['error_fields']);
$report['deleted'] = $http->delete("/api/customers/$id")->getStatusCode();
echo json_encode($report), "\n";
